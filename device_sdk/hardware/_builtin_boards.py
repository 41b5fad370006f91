"""Copies of the built-in board profiles in the repository's ``boards/`` directory.

Generated: an installed wheel has no ``boards/`` directory, so the package carries the texts.
``tests/test_hardware_profile.py`` fails when they differ from the files; regenerate with
``.venv/bin/python tests/test_hardware_profile.py --regen``.
"""

PROFILES: dict[str, str] = {
    "pi-4b": """\
# Board profile: Raspberry Pi 4 Model B. Schema: docs/boards.md.
# Wire the pairing button between GPIO17 and ground (internal pull-up) and the status LED
# (with a resistor) between GPIO27 and ground. Add your parts below as [[parts]] entries.

[board]
name = "pi-4b"
model = "Raspberry Pi 4 Model B"
pin_factory = "lgpio"     # works on every Pi model; GPIOZERO_PIN_FACTORY overrides it

[pairing_button]
pin = "GPIO17"
pull_up = true            # pressed = pin pulled to ground
hold_s = 10.0             # a 10 s hold is a factory reset
debounce_ms = 50

[status_led]
pin = "GPIO27"
active_high = true

# --- example parts: uncomment the ones you wired ---
# [[parts]]
# type = "relay"
# channel = "relay"
# description = "A relay board input"
# pin = "GPIO22"
# active_high = false     # most relay boards switch on when the input is pulled low
#
# [[parts]]
# type = "button"
# channel = "doorbell"
# pin = "GPIO5"
# debounce_ms = 30
#
# [[parts]]
# type = "motion_sensor"
# channel = "motion"
# pin = "GPIO6"
#
# [[parts]]
# type = "pwm_led"
# channel = "lamp"
# pin = "GPIO18"
#
# [[parts]]
# type = "mcp3008"         # uses the SPI pins GPIO8..11: enable SPI with raspi-config
# channel = "light_level"
# adc_channel = 0
# scale = 100.0            # 0..1 of 3.3 V -> 0..100 %
# unit = "%"
# min = 0
# max = 100
# rate_hz = 2
#
# [[parts]]
# type = "distance_sensor"
# channel = "distance"
# echo = "GPIO24"
# trigger = "GPIO23"
# max_distance = 2.0
# --- end of example parts ---
""",
    "pi-5": """\
# Board profile: Raspberry Pi 5. Schema: docs/boards.md.
# Wire the pairing button between GPIO17 and ground (internal pull-up) and the status LED
# (with a resistor) between GPIO27 and ground. Add your parts below as [[parts]] entries.

[board]
name = "pi-5"
model = "Raspberry Pi 5"
pin_factory = "lgpio"     # works on every Pi model; GPIOZERO_PIN_FACTORY overrides it

[pairing_button]
pin = "GPIO17"
pull_up = true            # pressed = pin pulled to ground
hold_s = 10.0             # a 10 s hold is a factory reset
debounce_ms = 50

[status_led]
pin = "GPIO27"
active_high = true

# --- example parts: uncomment the ones you wired ---
# [[parts]]
# type = "relay"
# channel = "relay"
# description = "A relay board input"
# pin = "GPIO22"
# active_high = false     # most relay boards switch on when the input is pulled low
#
# [[parts]]
# type = "button"
# channel = "doorbell"
# pin = "GPIO5"
# debounce_ms = 30
#
# [[parts]]
# type = "motion_sensor"
# channel = "motion"
# pin = "GPIO6"
#
# [[parts]]
# type = "pwm_led"
# channel = "lamp"
# pin = "GPIO18"
#
# [[parts]]
# type = "mcp3008"         # uses the SPI pins GPIO8..11: enable SPI with raspi-config
# channel = "light_level"
# adc_channel = 0
# scale = 100.0            # 0..1 of 3.3 V -> 0..100 %
# unit = "%"
# min = 0
# max = 100
# rate_hz = 2
#
# [[parts]]
# type = "distance_sensor"
# channel = "distance"
# echo = "GPIO24"
# trigger = "GPIO23"
# max_distance = 2.0
# --- end of example parts ---
""",
    "pi-zero-2w": """\
# Board profile: Raspberry Pi Zero 2 W. Schema: docs/boards.md.
# Wire the pairing button between GPIO17 and ground (internal pull-up) and the status LED
# (with a resistor) between GPIO27 and ground. Add your parts below as [[parts]] entries.

[board]
name = "pi-zero-2w"
model = "Raspberry Pi Zero 2 W"
pin_factory = "lgpio"     # works on every Pi model; GPIOZERO_PIN_FACTORY overrides it

[pairing_button]
pin = "GPIO17"
pull_up = true            # pressed = pin pulled to ground
hold_s = 10.0             # a 10 s hold is a factory reset
debounce_ms = 50

[status_led]
pin = "GPIO27"
active_high = true

# --- example parts: uncomment the ones you wired ---
# [[parts]]
# type = "relay"
# channel = "relay"
# description = "A relay board input"
# pin = "GPIO22"
# active_high = false     # most relay boards switch on when the input is pulled low
#
# [[parts]]
# type = "button"
# channel = "doorbell"
# pin = "GPIO5"
# debounce_ms = 30
#
# [[parts]]
# type = "motion_sensor"
# channel = "motion"
# pin = "GPIO6"
#
# [[parts]]
# type = "pwm_led"
# channel = "lamp"
# pin = "GPIO18"
#
# [[parts]]
# type = "mcp3008"         # uses the SPI pins GPIO8..11: enable SPI with raspi-config
# channel = "light_level"
# adc_channel = 0
# scale = 100.0            # 0..1 of 3.3 V -> 0..100 %
# unit = "%"
# min = 0
# max = 100
# rate_hz = 2
#
# [[parts]]
# type = "distance_sensor"
# channel = "distance"
# echo = "GPIO24"
# trigger = "GPIO23"
# max_distance = 2.0
# --- end of example parts ---
""",
    "sim": """\
# The simulated board: the same SDK code on gpiozero's mock pins, with simulated signals.
# Run it anywhere: `device-sdk run --board sim`. Tests and tools outside the project rely on
# the channels `temperature` (float, C, 10 Hz) and `led` (bool): keep them.

[board]
name = "sim"
model = "Simulated board"
simulated = true          # always runs on gpiozero's MockFactory
pin_factory = "mock"

[pairing_button]
pin = "GPIO17"
hold_s = 10.0             # a 10 s hold is a factory reset
debounce_ms = 50

[status_led]
pin = "GPIO27"

[[parts]]
type = "simulated"
channel = "temperature"
description = "Room temperature (simulated: a slow drift around 21 C)"
signal = "drift"
unit = "C"
min = 10.0
max = 35.0
start = 21.0
step = 0.02
rate_hz = 10

[[parts]]
type = "simulated"
channel = "sound_level"
description = "Sound level (simulated: noise with occasional bursts)"
signal = "noise"
unit = "dB"
min = 20.0
max = 110.0
start = 38.0
noise = 1.5
burst_level = 75.0
burst_chance = 0.01
burst_s = 1.5
rate_hz = 10

[[parts]]
type = "led"
channel = "led"
description = "An LED"
pin = "GPIO22"

[[parts]]
type = "pwm_led"
channel = "night_light"
description = "A dimmable night light (0.0 off .. 1.0 full)"
pin = "GPIO18"

[[parts]]
type = "button"
channel = "button"
description = "A push button (true while pressed)"
pin = "GPIO5"

[[parts]]
type = "motion_sensor"
channel = "motion"
description = "A PIR motion sensor (true while motion is seen)"
pin = "GPIO6"
""",
}
