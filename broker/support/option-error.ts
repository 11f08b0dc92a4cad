/** Thrown for an option that cannot work; `option` names it (its name in the options object). */
export class OptionError extends Error {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`option ${option}: ${message}`);
    this.name = 'OptionError';
  }
}
