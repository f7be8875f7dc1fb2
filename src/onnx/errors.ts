// The error a model gets when it uses an op, attribute value or element type kiln cannot run.
import { KilnError } from '../core/errors.js';

/** A feature of the model kiln does not support (as opposed to a malformed model or bad input). */
export class OnnxUnsupportedError extends KilnError {
  override name = 'OnnxUnsupportedError';
}
