/** Discord refused the bot's credentials: a setup mistake, reported as one line. */
export class LoginError extends Error {
  override readonly name = "LoginError";
}
