"""Deployment helpers used by prefect.yaml: a pull step that fills secrets from Prefect Secret blocks.

breachline reads its tokens from the environment variables breachline.toml names ([jira] token_env, [slack]
token_env, webhook_url_env). Workers usually have them set. Where they are kept in Prefect instead, this pull
step copies each named Secret block into its variable, in the flow run's process only, just before the flow
starts. It resolves the block at run time on the worker: unlike `{{ prefect.blocks.secret.x }}` in
job_variables, which `prefect deploy` resolves once and stores in the deployment in plain text.
"""

from __future__ import annotations

import os
from typing import cast


def secrets_from_blocks(**env_to_block: str) -> dict[str, list[str]]:
    """For each VARIABLE=block-name: if VARIABLE is unset or empty, set it from the Secret block.

    A variable that is already set wins (the worker's own environment is the first source); a block that does
    not exist is skipped, so the step is harmless where every secret comes from the environment. Returns the
    names of the variables it filled (never the values: step outputs are not secret-safe).
    """
    from prefect.blocks.system import Secret

    filled: list[str] = []
    for variable, block in env_to_block.items():
        if os.environ.get(variable):
            continue
        try:
            # _sync: the step runs in a worker thread; the union return type is Prefect's sync/async dispatch.
            secret = cast(Secret, Secret.load(block, _sync=True))  # type: ignore[call-arg]
        except ValueError:  # "Unable to find block document named ...": this deployment does not use it
            continue
        value = secret.get()
        if not isinstance(value, str) or not value:
            raise ValueError(f"Secret block {block!r} for ${variable} must hold a non-empty string")
        os.environ[variable] = value
        filled.append(variable)
    return {"secrets_from_blocks": filled}
