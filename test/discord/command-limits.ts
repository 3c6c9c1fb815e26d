/**
 * Discord's documented limits for application commands (developer docs, "Application Commands"):
 * what the API would reject, checked on the deployed JSON so a bad command fails here, not at deploy.
 */

const NAME = /^[-_\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;
const SUB_COMMAND = 1;
const SUB_COMMAND_GROUP = 2;
const STRING = 3;
const INTEGER = 4;
const CHANNEL = 7;
const NUMBER = 10;
const VALUE_TYPES = new Set([3, 4, 5, 6, 7, 8, 9, 10, 11]);

type Json = Record<string, unknown>;

function isJson(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function list(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isJson) : [];
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** Characters Discord counts toward the 4000 limit: names, descriptions and choice names and values. */
export function commandCharacters(command: Json): number {
  let total = text(command.name).length + text(command.description).length;
  for (const option of list(command.options)) total += commandCharacters(option);
  for (const choice of list(command.choices)) total += text(choice.name).length + String(choice.value).length;
  return total;
}

function checkName(where: string, value: unknown, problems: string[]): void {
  const name = text(value);
  if (!NAME.test(name)) problems.push(`${where}: name "${name}" does not match Discord's pattern`);
  if (name !== name.toLowerCase()) problems.push(`${where}: name "${name}" must be lowercase`);
}

function checkDescription(where: string, value: unknown, problems: string[]): void {
  const length = text(value).length;
  if (length < 1 || length > 100) problems.push(`${where}: description must be 1-100 characters (${length})`);
}

function checkOptions(
  where: string,
  options: Json[],
  level: "command" | "group" | "subcommand",
  problems: string[],
): void {
  if (options.length > 25) problems.push(`${where}: ${options.length} options (at most 25)`);
  const names = options.map((option) => text(option.name));
  if (new Set(names).size !== names.length) problems.push(`${where}: option names repeat`);
  const nesting = options.filter(
    (option) => option.type === SUB_COMMAND || option.type === SUB_COMMAND_GROUP,
  );
  if (nesting.length > 0 && nesting.length !== options.length) {
    problems.push(`${where}: subcommands cannot sit beside plain options`);
  }
  let optionalSeen = false;
  for (const option of options) {
    const at = `${where} > ${text(option.name)}`;
    checkName(at, option.name, problems);
    checkDescription(at, option.description, problems);
    const type = option.type;
    if (type === SUB_COMMAND_GROUP) {
      if (level !== "command") problems.push(`${at}: a group can only be at the top level`);
      const children = list(option.options);
      if (children.some((child) => child.type !== SUB_COMMAND))
        problems.push(`${at}: a group holds only subcommands`);
      checkOptions(at, children, "group", problems);
      continue;
    }
    if (type === SUB_COMMAND) {
      if (level === "subcommand") problems.push(`${at}: a subcommand cannot hold subcommands`);
      checkOptions(at, list(option.options), "subcommand", problems);
      continue;
    }
    if (typeof type !== "number" || !VALUE_TYPES.has(type))
      problems.push(`${at}: unknown option type ${String(type)}`);
    if (option.required === true && optionalSeen)
      problems.push(`${at}: required option after an optional one`);
    if (option.required !== true) optionalSeen = true;
    const choices = list(option.choices);
    if (choices.length > 0) {
      if (type !== STRING && type !== INTEGER && type !== NUMBER)
        problems.push(`${at}: choices on a ${type} option`);
      if (choices.length > 25) problems.push(`${at}: ${choices.length} choices (at most 25)`);
      if (option.autocomplete === true) problems.push(`${at}: autocomplete cannot be combined with choices`);
      for (const choice of choices) {
        const name = text(choice.name);
        if (name.length < 1 || name.length > 100)
          problems.push(`${at}: choice name "${name}" must be 1-100 characters`);
        if (type === STRING && (typeof choice.value !== "string" || choice.value.length > 100)) {
          problems.push(`${at}: string choice value must be at most 100 characters`);
        }
        if (type !== STRING && typeof choice.value !== "number")
          problems.push(`${at}: numeric choice with a non-number value`);
      }
    }
    if (option.autocomplete === true && type !== STRING && type !== INTEGER && type !== NUMBER) {
      problems.push(`${at}: autocomplete on a ${type} option`);
    }
    if (option.channel_types !== undefined && type !== CHANNEL)
      problems.push(`${at}: channel_types on a non-channel option`);
    if (
      (option.min_value !== undefined || option.max_value !== undefined) &&
      type !== INTEGER &&
      type !== NUMBER
    ) {
      problems.push(`${at}: min/max value on a non-numeric option`);
    }
    if (
      typeof option.min_value === "number" &&
      typeof option.max_value === "number" &&
      option.min_value > option.max_value
    ) {
      problems.push(`${at}: min_value above max_value`);
    }
    for (const key of ["min_length", "max_length"]) {
      const length = option[key];
      if (length === undefined) continue;
      if (type !== STRING) problems.push(`${at}: ${key} on a non-string option`);
      if (typeof length !== "number" || length < (key === "min_length" ? 0 : 1) || length > 6000) {
        problems.push(`${at}: ${key} out of range`);
      }
    }
  }
}

export function commandProblems(payload: unknown): string[] {
  const problems: string[] = [];
  if (!Array.isArray(payload)) return ["the payload is not an array"];
  const commands = list(payload);
  if (commands.length > 100) problems.push(`${commands.length} commands (at most 100 chat input commands)`);
  const names = commands.map((command) => text(command.name));
  if (new Set(names).size !== names.length) problems.push("command names repeat");
  for (const command of commands) {
    const where = `/${text(command.name)}`;
    checkName(where, command.name, problems);
    checkDescription(where, command.description, problems);
    if (command.type !== undefined && command.type !== 1) problems.push(`${where}: not a chat input command`);
    const permissions = command.default_member_permissions;
    if (permissions !== undefined && permissions !== null && !/^\d+$/.test(text(permissions))) {
      problems.push(`${where}: default_member_permissions must be a string of digits`);
    }
    checkOptions(where, list(command.options), "command", problems);
    const characters = commandCharacters(command);
    if (characters > 4000) problems.push(`${where}: ${characters} characters (at most 4000)`);
  }
  return problems;
}
