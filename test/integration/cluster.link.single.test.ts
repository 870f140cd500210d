import { SingleProcess } from '../../server/cluster/cluster.js';
import { runClusterContract } from '../support/cluster.contract.js';

// One process alone: the same contract, in which "every other link" is nobody.
runClusterContract('one process', async () => ({
  links: async () => [new SingleProcess()],
}));
