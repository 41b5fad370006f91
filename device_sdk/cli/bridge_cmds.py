"""`device-sdk bridge mqtt`: every paired device on an MQTT broker, with Home Assistant discovery."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .controller_cmds import controller_command
from .messages import ErrorContext, describe
from .render import note

if TYPE_CHECKING:  # the controller side is imported when the command runs
    from ..controller import Controller


def _describe(error: BaseException, device: str) -> str:
    """The bridge logs a library error as the CLI says it: one sentence for a person."""
    return describe(error, ErrorContext(device=device))


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bridge = sub.add_parser(
        "bridge",
        help="mirror the paired devices onto a message bus (MQTT, with Home Assistant discovery)",
        description="Long-running bridges between the devices this controller has paired and other systems.",
    )
    kinds = bridge.add_subparsers(dest="bridge_kind", required=True)
    p = kinds.add_parser(
        "mqtt",
        help="every paired device on an MQTT broker, discovered by Home Assistant",
        description=(
            "Keeps a connection to every device this controller has paired and mirrors its channels on an MQTT "
            "broker: sensors, switches, numbers, buttons and events appear in Home Assistant without YAML "
            "(docs/home-assistant.md). Runs until stopped (Ctrl-C or SIGTERM)."
        ),
    )
    p.add_argument("--broker", required=True, metavar="URL", help="mqtt://HOST[:PORT] (1883) or mqtts://HOST[:PORT]")
    p.add_argument("--username", help="the broker's user name")
    p.add_argument("--password-file", type=Path, metavar="FILE", help="a file whose first line is the password")
    p.add_argument(
        "--ca-file", type=Path, metavar="PEM", help="for mqtts://: the CA that signed the broker's certificate"
    )
    p.add_argument("--client-id", help="MQTT client id, also the bridge's id in topics (one per bridge on a broker)")
    p.add_argument("--discovery-prefix", default="homeassistant", help="Home Assistant's discovery prefix")
    p.add_argument("--base-topic", default="device_sdk", help="prefix of the bridge's other topics")
    p.add_argument(
        "--discovery",
        choices=("device", "component"),
        default="device",
        help="one discovery message per device (Home Assistant 2024.12+, the default) or per entity (older)",
    )
    p.add_argument(
        "--min-interval-ms", type=int, metavar="MS", help="at most one reading per sensor per MS milliseconds"
    )
    p.add_argument("--state-dir", type=Path, help="the controller's state directory")
    p.add_argument("--name", default="device-sdk bridge", help="this controller's name")
    p.add_argument("--interface", action="append", dest="interfaces", help="find devices on this interface")
    p.set_defaults(func=controller_command(cmd_bridge_mqtt, on_stop=0))


async def cmd_bridge_mqtt(ctl: Controller, args: argparse.Namespace) -> int:
    try:
        from ..bridge import BridgeConfig, MqttBridge, read_password_file
    except ModuleNotFoundError as exc:
        if exc.name != "aiomqtt":
            raise
        raise ConfigError("the MQTT bridge needs the mqtt extra: pip install 'device_sdk[mqtt]'") from None
    password = None
    if args.password_file is not None:
        password, shared = read_password_file(args.password_file)
        if shared:
            note(f"{args.password_file} can be read by other users: chmod 600 it")
    config = BridgeConfig(
        broker=args.broker,
        username=args.username,
        password=password,
        client_id=args.client_id,
        discovery_prefix=args.discovery_prefix,
        base_topic=args.base_topic,
        discovery=args.discovery,
        ca_file=args.ca_file,
        min_interval_ms=args.min_interval_ms,
    )
    bridge = MqttBridge(ctl, config, describe=_describe)
    peers = ctl.peers()
    note(
        f"bridging {len(peers)} paired device{'s' if len(peers) != 1 else ''} to {args.broker} "
        f"as {bridge.client_id} (discovery prefix {config.discovery_prefix}); Ctrl-C stops"
    )
    await bridge.run()
    return 0
