// Registers every import handler (each file registers its ops when loaded).
import './elementwise.js';
import './shape.js';
import './reduce.js';
import './linalg.js';
import './nn.js';
import './resize.js';
import './rnn.js';
import './scatter.js';
import './control.js';
import './misc.js';
