/** An error whose message is meant for a person and whose status becomes the HTTP response. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A problem with configuration or a file on disk: the program cannot go on, and says why in one line. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
