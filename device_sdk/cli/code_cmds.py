"""`device-sdk code parse|make` and `device-sdk provision`: setup codes and factory data."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..device import FactoryData
from ..device.sticker import format_manual_code, sticker_text, write_sticker_png, write_sticker_svg
from ..errors import ConfigError, InvalidSetupCode
from ..identity import AgentIdentity, stored_names
from ..pairing.setup_code import SetupPayload, encode_manual, encode_qr, parse_setup_code
from .common import id_number, usable_state_dir, whole_number
from .render import emit_json, is_terminal, say

DEFAULT_NAME = "device_sdk device"
"""The name and model of a device provisioned without ``--name``/``--model``."""


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    code = sub.add_parser("code", help="parse or make setup codes (Matter QR text and manual codes)")
    code_sub = code.add_subparsers(dest="code_command", required=True)
    parse = code_sub.add_parser("parse", help="show what a QR text, manual code or passcode holds")
    parse.add_argument("text", help="MT:... text, an 11/21-digit manual code or a passcode")
    parse.add_argument("--json", action="store_true", help="machine-readable output")
    parse.set_defaults(func=cmd_code_parse)

    make = code_sub.add_parser("make", help="make the QR text and manual code for a passcode")
    make.add_argument("--passcode", type=whole_number, required=True)
    make.add_argument("--discriminator", type=whole_number, required=True)
    make.add_argument("--vendor-id", type=id_number, default=0xFFF1)
    make.add_argument("--product-id", type=id_number, default=0x8000)
    make.add_argument("--flow", type=whole_number, default=0, choices=(0, 1, 2))
    make.add_argument("--json", action="store_true", help="machine-readable output")
    make.set_defaults(func=cmd_code_make)

    prov = sub.add_parser("provision", help="create a device's identity and setup code once; render its sticker")
    prov.add_argument("--state-dir", type=Path, help="the device's state directory")
    prov.add_argument("--name", help="the device's name (default: the stored one, else 'device_sdk device')")
    prov.add_argument("--model", help="the model name (default: the stored one, else 'device_sdk device')")
    prov.add_argument("--passcode", type=whole_number, help="use this passcode instead of a random one")
    prov.add_argument("--discriminator", type=whole_number, help="use this discriminator instead of a random one")
    prov.add_argument("--vendor-id", type=id_number)
    prov.add_argument("--product-id", type=id_number)
    prov.add_argument("--svg", type=Path, help="write the sticker as SVG")
    prov.add_argument("--png", type=Path, help="write the sticker as PNG")
    prov.add_argument("--json", action="store_true", help="machine-readable output")
    prov.set_defaults(func=cmd_provision)


def cmd_code_parse(args: argparse.Namespace) -> int:
    parsed = parse_setup_code(args.text)
    out: dict[str, Any] = {
        "kind": parsed.kind.value,
        "passcode": parsed.passcode,
        "discriminator": parsed.discriminator,
        "short_discriminator": parsed.short_discriminator,
        "vendor_id": parsed.vendor_id,
        "product_id": parsed.product_id,
        "flow": parsed.payloads[0].flow if parsed.payloads else None,
        "discovery": parsed.payloads[0].discovery if parsed.payloads else None,
    }
    if len(parsed.payloads) > 1:
        out["payloads"] = [
            {
                "passcode": p.passcode,
                "discriminator": p.discriminator,
                "vendor_id": p.vendor_id,
                "product_id": p.product_id,
                "flow": p.flow,
                "discovery": p.discovery,
            }
            for p in parsed.payloads
        ]
    if args.json:
        emit_json(out)
    else:
        for key in (
            "kind",
            "passcode",
            "discriminator",
            "short_discriminator",
            "vendor_id",
            "product_id",
            "flow",
            "discovery",
        ):
            value = out[key]
            if value is None:
                continue
            if key in ("vendor_id", "product_id"):
                value = f"0x{value:04X} ({value})"
            say(f"{key:20} {value}")
    return 0


def cmd_code_make(args: argparse.Namespace) -> int:
    try:
        payload = SetupPayload(
            passcode=args.passcode,
            discriminator=args.discriminator,
            vendor_id=args.vendor_id,
            product_id=args.product_id,
            flow=args.flow,
        )
    except InvalidSetupCode as exc:
        raise ConfigError(f"cannot make a setup code from these values: {exc}") from None
    manual = encode_manual(payload, long=args.flow != 0)
    out = {"qr": encode_qr(payload), "manual": manual}
    if args.json:
        emit_json(out)
    else:
        if is_terminal():
            say(sticker_text(payload))
        say(f"qr      {out['qr']}")
        say(f"manual  {format_manual_code(manual)}")
    return 0


def cmd_provision(args: argparse.Namespace) -> int:
    state_dir = usable_state_dir(args.state_dir, "device")
    stored_name, stored_model = stored_names(state_dir)
    identity = AgentIdentity.load_or_create(
        state_dir,
        model_name=args.model or stored_model or DEFAULT_NAME,
        instance_name=args.name or stored_name or DEFAULT_NAME,
    )
    factory = FactoryData.load_or_create(
        state_dir,
        passcode=args.passcode,
        discriminator=args.discriminator,
        vendor_id=args.vendor_id,
        product_id=args.product_id,
    )
    payload = factory.payload
    if args.svg:
        write_sticker_svg(payload, args.svg)
    if args.png:
        write_sticker_png(payload, args.png)
    out = {
        "state_dir": str(state_dir),
        "fp": identity.fingerprint_text,
        "name": identity.instance_name,
        "model": identity.model_name,
        "discriminator": factory.discriminator,
        "qr": factory.qr_text,
        "manual": factory.manual_code,
        "svg": str(args.svg) if args.svg else None,
        "png": str(args.png) if args.png else None,
    }
    if args.json:
        emit_json(out)
        return 0
    if is_terminal():
        say(sticker_text(payload))
    say(f"state directory  {state_dir}")
    say(f"fingerprint      {identity.fingerprint_text}")
    say(f"discriminator    {factory.discriminator}")
    say(f"qr               {factory.qr_text}")
    say(f"manual code      {format_manual_code(factory.manual_code)}")
    for kind in ("svg", "png"):
        if out[kind]:
            say(f"sticker {kind}      {out[kind]}")
    return 0
