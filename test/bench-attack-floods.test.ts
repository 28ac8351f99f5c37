// The bench's attack mode at small scale, ack floods (see support/attack-tests.ts).
import { describe } from 'node:test';
import { attackTests } from './support/attack-tests.js';

describe('bench attack mode, small run: ack floods', () => attackTests(['ack-ws', 'ack-socketio']));
