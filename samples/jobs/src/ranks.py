"""Print what a distributed launcher told this process (see samples/jobs/distributed.yml)."""

import os

env = os.environ
print(
    f"rank {env['RANK']} of {env['WORLD_SIZE']}: node {env['NODE_RANK']}, "
    f"local rank {env['LOCAL_RANK']}, master {env['MASTER_ADDR']}:{env['MASTER_PORT']}"
)
