// The bench's attack mode at small scale, connections that never authenticate (see support/attack-tests.ts).
import { describe } from 'node:test';
import { attackTests } from './support/attack-tests.js';

describe('bench attack mode, small run: unauthenticated connections held', () => attackTests(['handshakes', 'upgrades', 'sse']));
