/**
 * DATABASE_URL carries a password: it is checked and shown only through these helpers, so no
 * message or log line ever holds it in full.
 */

const POSTGRES_SCHEME = /^postgres(?:ql)?:\/\//i;

export function isPostgresUrl(value: string): boolean {
  return POSTGRES_SCHEME.test(value);
}

/** The URL with its password replaced, for messages; an unparsable value shows only its scheme. */
export function redactDatabaseUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password === "") return url.toString();
    // Set through URL, the brackets would come out percent-encoded.
    url.password = "-";
    return url.toString().replace(`${url.username}:-@`, `${url.username}:[redacted]@`);
  } catch {
    return `${value.split("://")[0] ?? "?"}://…`;
  }
}

/** The password of a database URL, for the log redactor. */
export function databasePassword(value: string): string | undefined {
  try {
    const password = decodeURIComponent(new URL(value).password);
    return password === "" ? undefined : password;
  } catch {
    return undefined;
  }
}
