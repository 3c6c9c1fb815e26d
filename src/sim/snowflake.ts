const DISCORD_EPOCH = 1_420_070_400_000n;
let sequence = 0;

/** A Discord-shaped id (timestamp, process, sequence), distinct within the process. */
export function snowflake(): string {
  sequence = (sequence + 1) & 0xfff;
  const time = BigInt(Date.now()) - DISCORD_EPOCH;
  return ((time << 22n) | (BigInt(process.pid & 0x3ff) << 12n) | BigInt(sequence)).toString();
}
