"""The architecture keeps its shape (docs/architecture.md): the public API of every package, the layers
and what each may import, no import cycle, no hidden process-wide state, one exception tree, the edges'
private names kept in their compat modules.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import device_sdk
from device_sdk.errors import _CLOSE_MEANINGS, _OPEN_RESULTS, DeviceSDKError
from device_sdk.wire import CloseCode, OpenResult

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "device_sdk"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(module_name(p) for p in PACKAGE.rglob("*.py"))


# -- the public API ----------------------------------------------------------------------------------

PUBLIC_API: dict[str, list[str]] = {
    "device_sdk": [
        "ActuatorBusy", "ActuatorError", "AgentIdentity", "AmbiguousDevice", "Catalog", "ChannelDescriptor",
        "ChannelError", "ChannelOpenFailed", "ConfigError", "ConnectTimeout", "ControllerRemoved", "ConnectionClosed",
        "ConnectionLost", "Controller", "ControllerConfig", "Device", "DeviceConfig", "DeviceConnection",
        "DeviceEvent", "DeviceNotFound", "DeviceSDKError", "DeviceTarget", "DeviceUnreachable", "DiscoveryError",
        "FactoryData", "FingerprintMismatch", "HardwareError", "InvalidArgument", "InvalidSetupCode", "InvalidType",
        "LocalProtocolError", "LockedOut", "LockoutStarted", "NotPaired", "NotRunning", "Paired", "PairingAborted",
        "PairingError", "PairingFailed", "PairingMode", "PairingStarted", "PairingTimeout", "PairingWindowChanged",
        "PairingWindowClosed", "PinShown", "PinnedDevice", "ProtocolError", "Reading", "ReconnectPolicy",
        "RemoteProtocolError", "SetupPayload", "StateError", "StreamChunk", "StreamFormat", "TransportError",
        "UnknownName", "ValueRejected", "WrongSetupCode", "__version__", "encode_manual", "encode_qr",
        "parse_setup_code",
    ],
    "device_sdk.device": [
        "ControllerRemoved", "Device", "DeviceConfig", "DeviceEvent", "FactoryData", "LockoutStarted", "Paired",
        "PairingFailed", "PairingStarted", "PairingWindowChanged", "PinShown", "device_config_from", "load_config_file",
    ],
    "device_sdk.controller": [
        "Controller", "ControllerConfig", "DeviceConnection", "DeviceTarget", "PinnedDevice", "ReconnectPolicy",
    ],
    "device_sdk.dashboard": ["DEFAULT_PORT", "Dashboard", "DashboardConfig", "parse_listen"],
    "device_sdk.wire": [
        "CAP_DATA_CHANNELS", "CAP_DEVICE_SDK_CHANNELS", "DEFAULT_MAX_MESSAGE_SIZE", "MESSAGE_TYPES",
        "UNAUTHENTICATED_TYPES", "WIRE_INT_MAX", "WIRE_INT_MIN", "AgentInfo", "AgentInfoEvent", "AgentInfoRequest",
        "AgentInfoResponse", "AgentStatusRequest", "AgentStatusResponse", "AuthCapabilities", "AuthMessage",
        "AuthResult", "AuthSpake2Confirmation", "AuthSpake2Handshake", "AuthStatus", "CborScanner", "CloseCode",
        "DataChannelOpenRequest", "DataChannelOpenResponse", "DataFrame", "Message", "MessageDecoder", "OpenResult",
        "PskStatus", "SchemaError", "decode_body", "decode_varint", "dumps_item", "encode_message", "encode_varint",
        "loads_item", "unencodable",
    ],
    "device_sdk.identity": [
        "CERT_FILE", "COUNTER_BITS", "DEFAULT_LABEL", "ELLIPSIS", "FINGERPRINT_SIZE", "FINGERPRINT_TEXT_LENGTH",
        "KEY_FILE", "MAX_COUNTER", "MAX_INSTANCE_NAME_BYTES", "MAX_LABEL_LENGTH", "MAX_MODEL_NAME_LENGTH",
        "META_FILE", "RENEW_BEFORE", "SERIAL_BASE_BITS", "VALIDITY_BACKDATE", "VALIDITY_PERIOD", "AgentIdentity",
        "agent_hostname", "certificate_matches", "check_sn", "compose_serial", "fingerprint_from_text",
        "fingerprint_text", "generate_private_key", "instance_label", "issue_certificate", "new_serial_base",
        "serial_hex", "spki_fingerprint", "spki_fingerprint_der", "stored_names", "truncate_instance_name",
    ],
    "device_sdk.pairing": [
        "ControllerAuth", "ControllerPinStore", "DeviceAuth", "DeviceTrustStore", "OpenReason", "PairingMode",
        "PairingWindow", "PinnedDevice", "PskProvider", "SetupPayload", "TrustedController", "WindowState",
        "WindowStore", "WindowUpdate", "encode_manual", "encode_qr", "parse_setup_code",
    ],
    "device_sdk.channels": [
        "ACTUATOR_PROTOCOL", "ADMIN_LABEL", "ADMIN_PROTOCOL", "CATALOG_LABEL", "CATALOG_PROTOCOL", "INPUT_PROTOCOL",
        "SENSOR_PROTOCOL", "STREAM_PROTOCOL", "Actuator", "ActuatorAnswer", "ActuatorBusy", "ActuatorCall",
        "ActuatorClient", "ActuatorSession", "ActuatorState", "AdminBackend", "AdminClient", "AdminSession",
        "ByteStream", "CallsReady", "Catalog", "CatalogChanged", "CatalogSession", "Channel", "ChannelDescriptor",
        "ChannelKind", "ChannelRegistry", "ChannelSession", "DeviceInfo", "FrameError", "Input", "InputFilter",
        "InputSession", "OpenRefused", "PeerInfo", "PeerRecord", "PendingRequest", "Reading", "ReadingFilter",
        "RegistryEvent", "Role", "Sensor", "SensorSession", "SessionReady", "StreamChunk", "StreamFormat",
        "StreamReceiver", "StreamSession", "Subscription", "ValueRejected", "ValueSpec", "ValueType", "check_value",
        "decode_input_datagram", "dumps_frame", "encode_input_datagram", "loads_frame", "parse_answer",
        "parse_catalog", "parse_chunk", "parse_format", "parse_input_datagram", "parse_peers", "parse_reading",
        "parse_state", "parse_subscription", "run_call", "run_call_sync", "subscription_frame",
    ],
    "device_sdk.transport": [
        "ALPN", "IDLE_TIMEOUT_S", "AgentConnection", "ConnectionHandler", "Credentials", "OspConnection",
        "ResourceLimits", "Server", "TransportConfig", "connect", "quic_configuration", "serve",
    ],
    "device_sdk.discovery": [
        "SERVICE_TYPE", "Advertiser", "AdvertiserConfig", "Browser", "DeviceAdded", "DeviceFilter", "DeviceRecord",
        "DeviceRemoved", "DeviceTxt", "DeviceUpdated", "DiscoveredDevice", "DiscoveryEvent", "InvalidTxt",
        "ResolvedInterfaces", "encode_txt", "parse_txt", "resolve_interfaces", "sanitize_display_name",
        "short_discriminator",
    ],
    "device_sdk.hardware": [
        "BoardProfile", "ButtonConfig", "ChannelSpec", "Emit", "EventSource", "HardwareRuntime", "LedConfig",
        "LedPattern", "PairingButton", "PartConfig", "SampledSource", "SimulatedBoard", "SimulatedSensor", "Sink",
        "Source", "StatusLed", "available_profiles", "build_part", "builtin_profile_names", "builtin_profiles_dir",
        "check_value", "load_profile", "make_mock_factory", "parse_profile", "parse_profile_text", "pattern_steps",
        "select_pin_factory", "sim_runtime",
    ],
    "device_sdk.storage": [
        "DIR_MODE", "FILE_MODE", "FileStamp", "MergedWrite", "StateWriter", "StateWriterThread", "atomic_write",
        "encode_json", "ensure_dir", "file_stamp", "is_stale_temporary", "locked", "read_json", "read_stamped",
        "remove_stale_temporaries", "write_json",
    ],
    "device_sdk.bridge": [
        "Action", "BridgeConfig", "BridgeCore", "ChannelPlan", "CommandRejected", "ConnectDevice", "DeviceIdentity",
        "DeviceMapping", "DisconnectDevice", "MqttBridge", "Peer", "Publish", "RunCommand", "Subscribe", "Topics",
        "WatchChannels", "channel_token", "component_payloads", "decode_action", "decode_set", "device_id",
        "discovery_payload", "encode_event", "encode_state", "map_catalog", "parse_broker_url", "read_password_file",
    ],
}  # fmt: skip
"""What each package exports. A change here is a change of the public API: make it on purpose."""


@pytest.mark.parametrize("package", sorted(PUBLIC_API))
def test_the_public_api_of_each_package_is_pinned(package: str) -> None:
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{package} has no __all__"
    assert sorted(exported) == sorted(PUBLIC_API[package])
    for name in exported:
        assert hasattr(module, name), f"{package}.__all__ names {name}, which it does not have"


def test_every_package_is_pinned() -> None:
    packages = {module_name(p.parent / "__init__.py") for p in PACKAGE.rglob("__init__.py")}
    assert packages - {"device_sdk.cli"} == set(PUBLIC_API)


# -- layers and cycles -------------------------------------------------------------------------------

LAYERS: dict[str, set[str]] = {
    "errors": set(),
    "_version": set(),
    "_lazy": set(),
    "wire": {"errors"},
    "storage": {"errors"},
    "identity": {"errors", "storage"},
    "channels": {"errors", "identity", "wire"},
    "pairing": {"errors", "identity", "storage", "wire", "channels"},
    "transport": {"errors", "identity", "wire"},
    "discovery": {"errors", "identity", "wire"},
    "hardware": {"errors", "channels"},
    "device": {
        "_version", "errors", "wire", "storage", "identity", "channels", "pairing", "transport", "discovery",
        "hardware",
    },
    "controller": {"errors", "wire", "storage", "identity", "channels", "pairing", "transport", "discovery"},
    # applications of the Controller API: they import device_sdk's public packages, and only cli imports them
    "bridge": {"errors", "channels", "controller"},
    "dashboard": {
        "_version", "errors", "wire", "storage", "identity", "channels", "pairing", "transport", "discovery",
        "controller",
    },
    "cli": {
        "_version", "errors", "wire", "storage", "identity", "channels", "pairing", "transport", "discovery",
        "hardware", "device", "controller", "bridge", "dashboard",
    },
    "__main__": {"cli"},
}  # fmt: skip
"""What each part of device_sdk may import (docs/architecture.md, "Layers"): the protocol layers never
import the device or the controller, the controller side never imports the hardware (nor gpiozero); the
dashboard is an application of the controller (never the device side), and only the CLI imports it."""
EVERY_PACKAGE_MAY_IMPORT = {"_lazy"}
"""The helper of the packages' lazy public names (device_sdk/_lazy.py)."""


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _source(module: str) -> tuple[Path, str]:
    path = PACKAGE.joinpath(*module.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    return path, module if path.name == "__init__.py" else module.rsplit(".", 1)[0]


def _targets(node: ast.Import | ast.ImportFrom, package: str) -> set[str]:
    """The device_sdk modules an import statement names (a package when it names none of its modules)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name.startswith("device_sdk")}
    if node.level:
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not target.startswith("device_sdk"):
        return set()
    return {f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target for a in node.names}


def _imports(module: str, *, top_level_only: bool) -> set[str]:
    """The device_sdk modules ``module`` imports: all of them, or only those imported when it is imported
    (``top_level_only``: not in a function body, not under ``if TYPE_CHECKING``)."""
    path, package = _source(module)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    if not top_level_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                found |= _targets(node, package)
        return found - {module}
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found |= _targets(node, package)
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            pending.extend(node.orelse)
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            pending.extend(ast.iter_child_nodes(node))
    return found - {module}


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(2, len(parts))]


@pytest.mark.parametrize("module", [m for m in MODULES if m != "device_sdk"])
def test_each_part_imports_only_the_layers_below_it(module: str) -> None:
    part = _part(module)
    allowed = LAYERS[part] | {part} | EVERY_PACKAGE_MAY_IMPORT
    imported = {_part(m) for m in _imports(module, top_level_only=False)} - {""}
    assert imported <= allowed, f"{module} imports {sorted(imported - allowed)}"


def test_no_import_cycle_between_modules() -> None:
    # Importing a.b.c runs a.b's __init__ first: an import of a module is also one of its packages (those
    # the importer is not itself inside, which are being imported already).
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        edges = set()
        for target in _imports(module, top_level_only=True):
            edges.add(target)
            edges.update(a for a in _ancestors(target) if a != module and a not in _ancestors(module))
        graph[module] = {t for t in edges if t in MODULES and t != "device_sdk"}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = 2

    for module in MODULES:
        if module not in state:
            walk(module)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


FORK_EACH_IMPORT = """
import importlib, os, sys, traceback
# What every module's import needs from outside device_sdk, loaded once; each module is then imported
# alone in a child forked from here, with nothing of device_sdk loaded yet (so that a cycle or a
# missing import inside device_sdk fails as it would in a fresh interpreter, without paying for
# the third-party imports two hundred times).
for name in ("asyncio", "aioquic.asyncio", "cbor2", "cryptography.x509", "zeroconf", "nacl.bindings"):
    importlib.import_module(name)
assert not any(m == "device_sdk" or m.startswith("device_sdk.") for m in sys.modules)
failed = running = 0
for module in sys.argv[1:]:
    if running == (os.cpu_count() or 1):
        failed += os.wait()[1] != 0
        running -= 1
    if os.fork() == 0:
        try:
            importlib.import_module(module)
        except BaseException:
            sys.stderr.write(module + ": " + traceback.format_exc().strip().splitlines()[-1] + "\\n")
            os._exit(1)
        os._exit(0)
    running += 1
while running:
    failed += os.wait()[1] != 0
    running -= 1
sys.exit(1 if failed else 0)
"""


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    modules = [m for m in MODULES if m != "device_sdk.__main__"]
    done = subprocess.run(
        [sys.executable, "-c", FORK_EACH_IMPORT, *modules], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


# -- no hidden process-wide state ----------------------------------------------------------------------


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    "statement",
    [
        "import device_sdk",
        "from device_sdk import Controller",
        "import device_sdk.controller",
        "import device_sdk.device",
        "import device_sdk.dashboard",
    ],
)
def test_the_controller_side_loads_neither_gpiozero_nor_segno(statement: str) -> None:
    loaded = run_python(f"""
        import sys
        {statement}
        print(sorted(m for m in ("gpiozero", "segno") if m in sys.modules))
    """)
    assert loaded.strip() == "[]"


@pytest.mark.parametrize("statement", ["import device_sdk", "import device_sdk.cli", "import device_sdk.bridge"])
def test_the_mqtt_extra_is_imported_only_when_the_bridge_runs(statement: str) -> None:
    loaded = run_python(f"""
        import sys
        {statement}
        print(sorted(m for m in ("aiomqtt", "paho") if m in sys.modules))
    """)
    assert loaded.strip() == "[]"


def test_the_dashboard_extra_is_imported_only_when_the_dashboard_is_used() -> None:
    # aiohttp is the optional 'dashboard' extra: the package and the CLI's other commands work without it.
    loaded = run_python("""
        import sys
        import device_sdk
        from device_sdk.cli import build_parser
        build_parser().parse_args(["dashboard", "--listen", "127.0.0.1:0"])
        print("aiohttp" in sys.modules, "device_sdk.dashboard" in sys.modules)
    """)
    assert loaded.split() == ["False", "False"]


# -- a program loads the parts it uses, no others -------------------------------------------------------

THIRD_PARTY = ("aioquic", "zeroconf", "ifaddr", "cryptography", "cbor2", "nacl", "gpiozero", "segno", "platformdirs")

LOADED = """
    def loaded(*names):
        import sys
        return sorted(n for n in names if n in sys.modules or any(m.startswith(n + ".") for m in sys.modules))
"""
"""A helper for the fresh interpreters below: which of ``names`` (modules or packages) are loaded."""


def _type_checking_imports(init: Path, package: str) -> dict[str, str]:
    """The names a package's ``__init__`` imports under ``if TYPE_CHECKING:``, and the module of each."""
    found: dict[str, str] = {}
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for imp in node.body:
                if isinstance(imp, ast.ImportFrom):
                    base = package.split(".")[: len(package.split(".")) - imp.level + 1] if imp.level else []
                    module = ".".join([*base, imp.module or ""]) if imp.level else imp.module or ""
                    found.update({alias.name: module for alias in imp.names})
    return found


@pytest.mark.parametrize("package", sorted(PUBLIC_API))
def test_each_lazy_name_is_the_object_the_type_checker_sees(package: str) -> None:
    init = PACKAGE.joinpath(*package.split(".")[1:], "__init__.py")
    declared = _type_checking_imports(init, package)
    module = importlib.import_module(package)
    eager = {name for name in module.__all__ if name in vars(module)} - declared.keys()
    assert declared.keys() | eager == set(module.__all__)
    for name, source in declared.items():
        assert getattr(module, name) is getattr(importlib.import_module(source), name), f"{package}.{name}"
    assert set(module.__all__) <= set(dir(module))


def test_importing_the_package_loads_none_of_its_parts() -> None:
    out = run_python(
        LOADED
        + """
    import sys
    import device_sdk
    ours = sorted(m for m in sys.modules if m.startswith("device_sdk."))
    print(ours, loaded(*THIRD_PARTY))
    """.replace("THIRD_PARTY", repr(THIRD_PARTY))
    )
    assert out.strip() == "['device_sdk._lazy', 'device_sdk._version', 'device_sdk.errors'] []"


def test_a_device_script_loads_what_its_configuration_uses_and_nothing_else(tmp_path: Path) -> None:
    """A Device without a board, stickers or advertising, started and stopped: no gpiozero, segno,
    zeroconf, platformdirs, nor the controller side; with a board, gpiozero (the check can fail)."""
    out = run_python(
        LOADED
        + f"""
    import asyncio
    from pathlib import Path
    from device_sdk import Device, DeviceConfig

    async def main():
        device = Device(DeviceConfig(state_dir=Path({str(tmp_path / "plain")!r}), advertise=False, host="127.0.0.1"))
        device.sensor("temperature", type="float")
        device.actuator("led", type="bool", initial=False, handler=lambda on: on)
        async with device:
            pass
        print(loaded("gpiozero", "segno", "zeroconf", "ifaddr", "platformdirs", "tomllib", "device_sdk.controller",
                     "device_sdk.hardware", "device_sdk.cli", "device_sdk.discovery.advertiser",
                     "device_sdk.discovery.browser", "device_sdk.channels.client",
                     "device_sdk.pairing.auth_controller", "device_sdk.device.sticker"))
        Device(DeviceConfig(state_dir=Path({str(tmp_path / "board")!r}), board="sim", advertise=False))
        print(loaded("gpiozero", "device_sdk.hardware", "tomllib"))

    asyncio.run(main())
    """
    )
    assert out.split("\n")[:2] == ["[]", "['device_sdk.hardware', 'gpiozero', 'tomllib']"]


def test_a_controller_script_loads_no_device_side(tmp_path: Path) -> None:
    out = run_python(
        LOADED
        + f"""
    from pathlib import Path
    from device_sdk import Controller, ControllerConfig

    Controller(ControllerConfig(state_dir=Path({str(tmp_path)!r})))
    print(loaded("gpiozero", "segno", "platformdirs", "device_sdk.device", "device_sdk.hardware", "device_sdk.cli",
                 "device_sdk.discovery.advertiser", "device_sdk.pairing.auth_device"))
    """
    )
    assert out.strip() == "[]"


def test_the_command_line_loads_the_command_it_runs_and_no_other(tmp_path: Path) -> None:
    """Building the parser loads neither side; `device-sdk run` without a board, on no terminal, loads
    no gpiozero, segno (the sticker is drawn on a terminal only), zeroconf, platformdirs (a state
    directory is given) nor the controller side, up to serving (its ready file written)."""
    ready = tmp_path / "ready.json"
    out = run_python(
        LOADED
        + f"""
    import os, signal, threading, time
    from pathlib import Path
    from device_sdk.cli import build_parser, main

    build_parser()
    print(loaded("aioquic", "zeroconf", "gpiozero", "segno", "nacl", "platformdirs", "device_sdk.controller",
                 "device_sdk.device.device"))
    ready = Path({str(ready)!r})

    def when_serving():
        while not ready.exists():
            time.sleep(0.01)
        print(loaded("gpiozero", "segno", "zeroconf", "platformdirs", "device_sdk.controller",
                     "device_sdk.hardware.runtime", "device_sdk.discovery.advertiser"), flush=True)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=when_serving, daemon=True).start()
    code = main(["run", "--no-advertise", "--state-dir", {str(tmp_path / "state")!r}, "--port", "0",
                 "--ready-file", str(ready)])
    print("exit", code)
    """
    )
    ours = [line for line in out.splitlines() if line.startswith(("[", "exit"))]  # the device's own lines aside
    assert ours == ["[]", "[]", "exit 0"], out


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["pair", "--help"]])
def test_the_command_lines_help_loads_neither_side(argv: list[str]) -> None:
    """`device-sdk --help` (and a command's) prints the usage without QUIC, PyNaCl, mDNS, GPIO or either side's
    main part (the CLI's modules import cryptography for fingerprints and setup codes, which is not checked)."""
    out = run_python(
        LOADED
        + f"""
    import contextlib, io
    from device_sdk.cli import main

    with contextlib.redirect_stdout(io.StringIO()) as usage, contextlib.suppress(SystemExit):
        main({argv!r})
    print("usage:" in usage.getvalue(), loaded("aioquic", "nacl", "zeroconf", "ifaddr", "gpiozero", "segno",
                                              "device_sdk.device.device", "device_sdk.controller.controller"))
    """
    )
    assert out.strip() == "True []"


def test_no_state_writer_thread_outlives_the_device_or_controller_that_made_it(tmp_path: Path) -> None:
    out = run_python(f"""
        import asyncio, threading
        from pathlib import Path
        from device_sdk import Controller, ControllerConfig, Device, DeviceConfig
        from device_sdk.storage.statefile import WRITER_THREAD_NAME

        def writers():
            return sum(t.name == WRITER_THREAD_NAME for t in threading.enumerate())

        async def main():
            state = Path({str(tmp_path)!r})
            device = Device(DeviceConfig(state_dir=state / "device", advertise=False, host="127.0.0.1"))
            async with device:
                running = writers()
                device.trust.add(bytes(32), "someone", 0.0)  # a background write
            print("device", running, writers())
            async with Controller(ControllerConfig(state_dir=state / "controller")) as ctl:
                ctl.pins.add(bytes(32), "thermo", now=0.0)  # a background write: the thread starts
                await asyncio.sleep(0.1)
                running = writers()
            print("controller", running, writers())

        asyncio.run(main())
    """)
    assert out.split() == ["device", "1", "0", "controller", "1", "0"]


def test_building_an_spi_part_leaves_no_global_pin_factory() -> None:
    out = run_python("""
        import gpiozero
        from device_sdk.hardware import build_part, make_mock_factory, parse_profile_text

        profile = parse_profile_text(
            '[board]\\nname = "t"\\n[[parts]]\\ntype = "mcp3008"\\nchannel = "light"\\nadc_channel = 0\\n',
            source="t.toml",
        )
        part = build_part(profile.parts[0], make_mock_factory())
        print(gpiozero.Device.pin_factory is None, round(float(part.read()), 3) >= 0)
        part.close()
    """)
    assert out.split() == ["True", "True"]


# -- one exception tree, one home for the codes ---------------------------------------------------------


def test_every_exception_of_the_library_derives_from_the_root() -> None:
    strays = []
    for module_name_ in MODULES:
        if module_name_ == "device_sdk.__main__":
            continue
        module = importlib.import_module(module_name_)
        for name, obj in vars(module).items():
            ours = inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module_name_
            if ours and not issubclass(obj, DeviceSDKError):
                strays.append(f"{module_name_}.{name}")
    assert not strays


def test_the_error_messages_tables_are_keyed_by_wire_codes() -> None:
    assert set(_CLOSE_MEANINGS) <= {int(c) for c in CloseCode}
    assert set(_OPEN_RESULTS) <= {int(r) for r in OpenResult}


# -- the edges' private names stay in their compat modules -------------------------------------------

AIOQUIC_PRIVATE = re.compile(
    r"\._(quic|configuration|remote_max_datagram_frame_size|loss|streams|close_event|state|transport|loop|"
    r"datagrams_pending|peer_certificate|request_client_certificate|connected_waiter)\b"
)


def test_aioquic_private_names_only_in_the_compat_module() -> None:
    found = []
    for path in (PACKAGE / "transport").glob("*.py"):
        if path.name == "_aioquic_compat.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if AIOQUIC_PRIVATE.search(line.replace("self._state", "").replace("self._loop", "")):
                found.append(f"{path.name}:{number}: {line.strip()}")
    assert not found


def test_zeroconf_internals_only_in_the_compat_module() -> None:
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "_zeroconf_compat.py":
            continue
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"^\s*(from|import) zeroconf(\.(_\w+|const))", text, re.M):
            found.append(f"{path.relative_to(ROOT)}: {match.group(0).strip()}")
    assert not found


def test_the_top_level_holds_only_the_api_the_errors_and_packages() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py", "_lazy.py", "_version.py", "errors.py"]
    assert device_sdk.__version__
