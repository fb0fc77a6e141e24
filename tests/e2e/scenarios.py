"""Runs an end-to-end script's scenarios in order: prints `ok <name>` for each that passed and
`FAIL <name>: ...` (with the traceback on stderr) for each that did not, and exits 1 when any
failed. The Rust test that starts the script checks the `ok` lines."""

import sys
import traceback

import anyio


def run(scenarios, seconds=60):
    async def main():
        failed = False
        for scenario in scenarios:
            try:
                with anyio.fail_after(seconds):
                    await scenario()
                print(f"ok {scenario.__name__}", flush=True)
            except Exception as e:  # noqa: BLE001 - report every failure and go on
                failed = True
                print(f"FAIL {scenario.__name__}: {type(e).__name__}: {e}", flush=True)
                traceback.print_exc()
        sys.exit(1 if failed else 0)

    anyio.run(main)
