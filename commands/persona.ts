import {
  type APIModalInteractionResponseCallbackData,
  InteractionContextType,
  ModalBuilder,
  PermissionFlagsBits,
  SlashCommandBuilder,
  TextInputStyle,
} from "discord.js";
import { applyLive } from "../src/discord/apply-live.ts";
import { requireGuild, requireManageGuild } from "../src/discord/checks.ts";
import type {
  Choice,
  Command,
  CommandContext,
  CommandOptions,
  CommandServices,
  GuildAccess,
} from "../src/discord/context.ts";
import { listenLabel, personaSummary, problemsMessage, settingsEmbed } from "../src/discord/format.ts";
import {
  AZURE_VOICES,
  isToolName,
  type ListenPolicy,
  MAX_INSTRUCTIONS_LENGTH,
  MAX_WAKE_NAME_LENGTH,
  OPENAI_VOICES,
  type Persona,
  type PersonaChange,
  TOOL_NAMES,
  TURN_DETECTION_TYPES,
  TURN_TAKING_MODES,
  type TurnDetectionType,
  type TurnTaking,
  WAKE_MODES,
  type WakeMode,
} from "../src/persona.ts";

const NAME = "persona";
const INSTRUCTIONS_MODAL = `${NAME}:instructions`;
const INSTRUCTIONS_FIELD = "instructions";
const MAX_CHOICES = 25;

const data = new SlashCommandBuilder()
  .setName(NAME)
  .setDescription("Show or change how the bot talks and listens in this server")
  .setContexts(InteractionContextType.Guild)
  .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
  .addSubcommand((sub) =>
    sub.setName("show").setDescription("Show the current persona and listening settings"),
  )
  .addSubcommand((sub) =>
    sub
      .setName("set")
      .setDescription("Change voice and conversation settings (instructions: /persona instructions)")
      .addStringOption((option) =>
        option
          .setName("voice")
          .setDescription("A voice the configured model can use: alloy..., en-US-AvaNeural..., ava...")
          .setAutocomplete(true),
      )
      .addNumberOption((option) =>
        option
          .setName("temperature")
          .setDescription("Sampling temperature, 0.6 to 1.2")
          .setMinValue(0.6)
          .setMaxValue(1.2),
      )
      .addStringOption((option) =>
        option
          .setName("turn_detection")
          .setDescription("How the end of a turn is detected")
          .addChoices(TURN_DETECTION_TYPES.map((type) => ({ name: type, value: type }))),
      )
      .addNumberOption((option) =>
        option
          .setName("threshold")
          .setDescription("Voice activity threshold, 0 to 1 (higher hears less)")
          .setMinValue(0)
          .setMaxValue(1),
      )
      .addIntegerOption((option) =>
        option
          .setName("silence_duration_ms")
          .setDescription("Silence that ends a turn, 200 to 5000 ms")
          .setMinValue(200)
          .setMaxValue(5000),
      )
      .addIntegerOption((option) =>
        option
          .setName("prefix_padding_ms")
          .setDescription("Audio kept before detected speech, 0 to 2000 ms")
          .setMinValue(0)
          .setMaxValue(2000),
      )
      .addBooleanOption((option) =>
        option.setName("noise_suppression").setDescription("Azure deep noise suppression"),
      )
      .addBooleanOption((option) =>
        option.setName("echo_cancellation").setDescription("Azure server echo cancellation"),
      )
      .addStringOption((option) =>
        option
          .setName("transcription_language")
          .setDescription("Language of the speech for captions (en, en-US...), or auto")
          .setMaxLength(35),
      )
      .addBooleanOption((option) =>
        option.setName("ducking").setDescription("Lower my voice as soon as someone talks over me"),
      )
      .addBooleanOption((option) =>
        option
          .setName("attribution")
          .setDescription("Tell me who is speaking and who is in the channel (display names)"),
      )
      .addStringOption((option) =>
        option
          .setName("time_zone")
          .setDescription("Time zone for telling the time, such as UTC or Europe/Paris")
          .setMaxLength(64),
      )
      .addStringOption((option) =>
        option
          .setName("turn_taking")
          .setDescription("smart: I pause for a cough or a yeah and go on; service: any sound stops me")
          .addChoices(TURN_TAKING_MODES.map((mode) => ({ name: mode, value: mode }))),
      )
      .addIntegerOption((option) =>
        option
          .setName("min_interruption_ms")
          .setDescription("smart: speech longer than this stops me, 100 to 3000 ms")
          .setMinValue(100)
          .setMaxValue(3000),
      )
      .addStringOption((option) =>
        option
          .setName("wake_mode")
          .setDescription("When I answer only turns that say my name")
          .addChoices(
            { name: "off: I answer everyone", value: "off" },
            { name: "group: when two or more people are in the channel", value: "group" },
            { name: "always", value: "always" },
          ),
      )
      .addStringOption((option) =>
        option
          .setName("wake_name")
          .setDescription("The name that calls me (default: my display name), or none")
          .setMaxLength(MAX_WAKE_NAME_LENGTH),
      )
      .addIntegerOption((option) =>
        option
          .setName("follow_up_seconds")
          .setDescription("After I spoke, turns this soon need no name, 0 to 300 s")
          .setMinValue(0)
          .setMaxValue(300),
      )
      .addStringOption((option) =>
        option
          .setName("voice_endpoint_id")
          .setDescription("Deployment id of an Azure custom voice, or none")
          .setMaxLength(64),
      ),
  )
  .addSubcommand((sub) => sub.setName("instructions").setDescription("Edit the instructions in a form"))
  .addSubcommand((sub) =>
    sub
      .setName("listen")
      .setDescription("Choose whose speech I listen to")
      .addStringOption((option) =>
        option
          .setName("mode")
          .setDescription("Who is heard")
          .setRequired(true)
          .addChoices(
            { name: "everyone in the channel", value: "everyone" },
            { name: "only the member who ran /join", value: "initiator" },
            { name: "members with a role", value: "role" },
          ),
      )
      .addRoleOption((option) => option.setName("role").setDescription("The role to listen to (mode: role)")),
  )
  .addSubcommand((sub) =>
    sub
      .setName("tools")
      .setDescription("Allow or forbid one of the things I can do when asked (each checks who asked)")
      .addStringOption((option) =>
        option
          .setName("tool")
          .setDescription("The tool")
          .setRequired(true)
          .addChoices(...TOOL_NAMES.map((tool) => ({ name: tool, value: tool }))),
      )
      .addBooleanOption((option) => option.setName("enabled").setDescription("On or off").setRequired(true)),
  )
  .addSubcommand((sub) => sub.setName("reset").setDescription("Back to the configured default persona"));

type TurnDetectionChange = { -readonly [K in keyof Persona["turnDetection"]]?: Persona["turnDetection"][K] };

/** Reads /persona set's options into a change; problems only for values Discord's client would not send. */
function changeFromOptions(options: CommandOptions): { change: PersonaChange; problems: string[] } {
  const change: PersonaChange = {};
  const problems: string[] = [];
  const turn: TurnDetectionChange = {};

  const voice = options.string("voice");
  if (voice !== null) change.voice = voice;
  const endpoint = options.string("voice_endpoint_id");
  if (endpoint !== null) change.voiceEndpointId = endpoint.trim().toLowerCase() === "none" ? null : endpoint;
  const temperature = options.number("temperature");
  if (temperature !== null) change.temperature = temperature;
  const type = options.string("turn_detection");
  if (type !== null) {
    const known = TURN_DETECTION_TYPES.find(
      (candidate): candidate is TurnDetectionType => candidate === type,
    );
    if (known === undefined)
      problems.push(`turn detection: must be one of ${TURN_DETECTION_TYPES.join(", ")}`);
    else turn.type = known;
  }
  const threshold = options.number("threshold");
  if (threshold !== null) turn.threshold = threshold;
  const silence = options.integer("silence_duration_ms");
  if (silence !== null) turn.silenceDurationMs = silence;
  const padding = options.integer("prefix_padding_ms");
  if (padding !== null) turn.prefixPaddingMs = padding;
  if (Object.keys(turn).length > 0) change.turnDetection = turn;
  const noiseSuppression = options.boolean("noise_suppression");
  if (noiseSuppression !== null) change.noiseSuppression = noiseSuppression;
  const echoCancellation = options.boolean("echo_cancellation");
  if (echoCancellation !== null) change.echoCancellation = echoCancellation;
  const language = options.string("transcription_language");
  if (language !== null)
    change.transcriptionLanguage = language.trim().toLowerCase() === "auto" ? null : language;
  const ducking = options.boolean("ducking");
  if (ducking !== null) change.ducking = ducking;
  const attribution = options.boolean("attribution");
  if (attribution !== null) change.attribution = attribution;
  const timeZone = options.string("time_zone");
  if (timeZone !== null) change.timeZone = timeZone;
  const turnTaking = options.string("turn_taking");
  if (turnTaking !== null) {
    const known = TURN_TAKING_MODES.find((mode): mode is TurnTaking => mode === turnTaking);
    if (known === undefined) problems.push(`turn taking: must be one of ${TURN_TAKING_MODES.join(", ")}`);
    else change.turnTaking = known;
  }
  const minInterruption = options.integer("min_interruption_ms");
  if (minInterruption !== null) change.minInterruptionMs = minInterruption;
  const wakeMode = options.string("wake_mode");
  if (wakeMode !== null) {
    const known = WAKE_MODES.find((mode): mode is WakeMode => mode === wakeMode);
    if (known === undefined) problems.push(`wake mode: must be one of ${WAKE_MODES.join(", ")}`);
    else change.wakeMode = known;
  }
  const wakeName = options.string("wake_name");
  if (wakeName !== null) change.wakeName = wakeName.trim().toLowerCase() === "none" ? null : wakeName;
  const followUp = options.integer("follow_up_seconds");
  if (followUp !== null) change.followUpSeconds = followUp;
  return { change, problems };
}

function instructionsModal(current: string): APIModalInteractionResponseCallbackData {
  return new ModalBuilder()
    .setCustomId(INSTRUCTIONS_MODAL)
    .setTitle("Persona instructions")
    .addLabelComponents((label) =>
      label
        .setLabel("Instructions")
        .setDescription("What I am told before every conversation: who I am, how I answer.")
        .setTextInputComponent((input) =>
          input
            .setCustomId(INSTRUCTIONS_FIELD)
            .setStyle(TextInputStyle.Paragraph)
            .setMinLength(1)
            .setMaxLength(MAX_INSTRUCTIONS_LENGTH)
            .setRequired(true)
            .setValue(current.slice(0, MAX_INSTRUCTIONS_LENGTH)),
        ),
    )
    .toJSON();
}

/** Voices the configured model can use that match the typed text, those starting with it first. */
export function voiceChoices(
  typed: string,
  voices: readonly string[] = [...OPENAI_VOICES, ...AZURE_VOICES],
): Choice[] {
  const needle = typed.trim().toLowerCase();
  const starting = voices.filter((voice) => voice.toLowerCase().startsWith(needle));
  const containing = voices.filter(
    (voice) => !voice.toLowerCase().startsWith(needle) && voice.toLowerCase().includes(needle),
  );
  return [...starting, ...containing].slice(0, MAX_CHOICES).map((voice) => ({ name: voice, value: voice }));
}

async function set(ctx: CommandContext, services: CommandServices, guild: GuildAccess): Promise<void> {
  const { change, problems } = changeFromOptions(ctx.options);
  if (problems.length > 0) {
    await ctx.reply({ content: problemsMessage(problems), ephemeral: true });
    return;
  }
  if (Object.keys(change).length === 0) {
    await ctx.reply({
      content:
        "Nothing to change: give at least one option. The instructions are edited with /persona instructions.",
      ephemeral: true,
    });
    return;
  }
  const result = await services.store.changePersona(guild.id, change);
  if (!result.ok) {
    await ctx.reply({ content: problemsMessage(result.problems), ephemeral: true });
    return;
  }
  await applyLive(
    ctx,
    services,
    guild.id,
    result.settings,
    `Saved: ${personaSummary(result.settings.persona)}.`,
  );
}

/** The policy the options describe, or the problem with them. */
function listenPolicyFromOptions(options: CommandOptions): ListenPolicy | string {
  const mode = options.string("mode");
  const role = options.role("role");
  if (mode === "everyone" || mode === "initiator")
    return role === null ? { mode } : "role: only used with the mode role.";
  if (mode === "role")
    return role === null
      ? "role: choose the role to listen to when the mode is role."
      : { mode, roleId: role.id };
  return "mode: must be everyone, initiator or role.";
}

async function listen(ctx: CommandContext, services: CommandServices, guild: GuildAccess): Promise<void> {
  const policy = listenPolicyFromOptions(ctx.options);
  if (typeof policy === "string") {
    await ctx.reply({ content: `${policy} Nothing was saved.`, ephemeral: true });
    return;
  }
  const settings = await services.store.setListenPolicy(guild.id, policy);
  await applyLive(ctx, services, guild.id, settings, `I listen to ${listenLabel(settings.listen)}.`);
}

async function tools(ctx: CommandContext, services: CommandServices, guild: GuildAccess): Promise<void> {
  const tool = ctx.options.string("tool");
  const enabled = ctx.options.boolean("enabled");
  if (tool === null || !isToolName(tool) || enabled === null) {
    await ctx.reply({
      content: `tool: must be one of ${TOOL_NAMES.join(", ")}, with enabled on or off. Nothing was saved.`,
      ephemeral: true,
    });
    return;
  }
  const current = (await services.store.settings(guild.id)).persona.tools;
  const next = enabled ? [...current, tool] : current.filter((name) => name !== tool);
  const result = await services.store.changePersona(guild.id, { tools: next });
  if (!result.ok) {
    await ctx.reply({ content: problemsMessage(result.problems), ephemeral: true });
    return;
  }
  const on = result.settings.persona.tools;
  await applyLive(
    ctx,
    services,
    guild.id,
    result.settings,
    `${tool} is ${enabled ? "on" : "off"}. Tools on: ${on.length === 0 ? "none" : on.join(", ")}.`,
  );
}

export const command: Command = {
  data,
  async execute(ctx, services) {
    const guild = await requireGuild(ctx);
    if (guild === undefined || !(await requireManageGuild(ctx))) return;
    switch (ctx.options.subcommand) {
      case "show":
        await ctx.reply({
          embeds: [settingsEmbed(await services.store.settings(guild.id), "Persona")],
          ephemeral: true,
        });
        return;
      case "set":
        await set(ctx, services, guild);
        return;
      case "instructions":
        await ctx.showModal(
          instructionsModal((await services.store.settings(guild.id)).persona.instructions),
        );
        return;
      case "listen":
        await listen(ctx, services, guild);
        return;
      case "tools":
        await tools(ctx, services, guild);
        return;
      case "reset": {
        const settings = await services.store.resetPersona(guild.id);
        await applyLive(
          ctx,
          services,
          guild.id,
          settings,
          "The persona is back to the configured default (listening and captions are unchanged).",
        );
        return;
      }
      default:
        throw new Error(`unknown subcommand ${ctx.options.subcommand}`);
    }
  },

  autocomplete(ctx, services) {
    return ctx.focused.name === "voice"
      ? voiceChoices(ctx.focused.value, services.store.personaRules.voices())
      : [];
  },

  async submitModal(ctx, services) {
    const guild = await requireGuild(ctx);
    if (guild === undefined || !(await requireManageGuild(ctx))) return;
    if (ctx.customId !== INSTRUCTIONS_MODAL) throw new Error(`unknown modal ${ctx.customId}`);
    const instructions = ctx.field(INSTRUCTIONS_FIELD);
    const result =
      instructions === null
        ? { ok: false as const, problems: ["instructions: the form came back without them"] }
        : await services.store.changePersona(guild.id, { instructions });
    if (!result.ok) {
      await ctx.reply({ content: problemsMessage(result.problems), ephemeral: true });
      return;
    }
    await applyLive(ctx, services, guild.id, result.settings, "Instructions saved.");
  },
};
