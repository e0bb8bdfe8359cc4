"""`esup-agent rotate-key`: move the agent to a new signing key (added to agent.cli's group)."""

from __future__ import annotations

from pathlib import Path

import click

from .cli import _load, config_option


def _rotate_key(config_path: Path) -> None:
    """Replace this agent's signing key with a new one the collector pins.

    Stop the agent service first and start it again afterwards: a running agent keeps
    signing with the key it read at start. The new key is made on this machine and only its
    public half, with a signature proving the agent holds it, is sent (signed with the current
    key). If the answer is lost, run the command again: it finishes the same rotation.

    \b
    Examples:
      esup-agent rotate-key -c /etc/esupervision/agent.toml
    """
    from .enrol import rotate_key as do_rotate
    from .runner import open_outbox
    from .signing import AgentKeys
    from .transport import build_client

    config = _load(config_path)
    keys = AgentKeys(config.agent.state_dir)
    enrolment = keys.require_enrolment()
    with build_client(config.collector) as client:
        new_key_id = do_rotate(client, keys)
    with open_outbox(config) as outbox:
        outbox.link.resume()  # a refusal for the old key no longer applies
    click.echo(
        f"agent {enrolment.agent_id} now signs with key {new_key_id}; start the agent service "
        "again / 密钥已更换，请重新启动采集服务"
    )


# Built here rather than decorated: agent.cli imports this module, and an annotated name keeps
# that import cycle readable to mypy.
rotate_key: click.Command = click.command("rotate-key")(config_option(_rotate_key))
