"""TEST-ONLY: run the fake Crossplane provider as a process until SIGTERM/SIGINT. Never shipped.

    python -m devtools.simulator --kubeconfig PATH [--namespace NS] [--ready-delay S] [--account-id ID]
                                 [--coalesce-writes] [--estate FILE] [--cloud-out FILE]

Prints ``provider-simulator: watching ...`` on stdout once every kind is listed, and its counters on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import json
import logging
import os
import signal
import sys

import kopf

from .provider import DEFAULT_ACCOUNT, ProviderSimulator, make_client


def _pem(data: str | bytes | None) -> str | None:
    """kubeconfig certificate-authority-data is base64; KubeClient's SSL context wants PEM text."""
    if data is None:
        return None
    text = data.decode() if isinstance(data, bytes) else data
    return text if text.startswith("-----BEGIN") else base64.b64decode(text).decode()


def login(kubeconfig: str) -> kopf.ConnectionInfo:
    os.environ["KUBECONFIG"] = kubeconfig
    info = kopf.login_with_kubeconfig(settings=kopf.OperatorSettings())
    if info is None:
        raise SystemExit(f"no usable credentials in {kubeconfig}")
    scheme = info.scheme or ("Bearer" if info.token else None)
    return dataclasses.replace(info, ca_data=_pem(info.ca_data), scheme=scheme)


async def _main(args: argparse.Namespace) -> None:
    client = make_client(login(args.kubeconfig))
    estate = None
    if args.estate:
        with open(args.estate, encoding="utf-8") as f:
            estate = json.load(f)
    sim = ProviderSimulator(client, namespace=args.namespace, ready_delay=args.ready_delay,
                            account_id=args.account_id, coalesce_writes=args.coalesce_writes, estate=estate,
                            cloud_out=args.cloud_out)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await sim.start()
        await sim.wait_started(timeout=args.start_timeout)
        print(f"provider-simulator: watching {len(sim.kinds)} kinds in "
              f"{args.namespace or 'all namespaces'} (ready delay {args.ready_delay}s)", flush=True)
        await stop.wait()
    finally:
        await sim.stop()
        await client.close()
        print(f"provider-simulator: stopped; {json.dumps(sim.stats.as_dict(), sort_keys=True)}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.simulator", description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", default=None, help="watch one namespace (default: all)")
    parser.add_argument("--ready-delay", type=float, default=0.2, help="seconds from first sight to Ready")
    parser.add_argument("--account-id", default=DEFAULT_ACCOUNT)
    parser.add_argument("--coalesce-writes", action="store_true",
                        help="two writes per MR instead of four (same end state; the scale benchmark's mode)")
    parser.add_argument("--estate", help="JSON file of pre-existing AWS state: {kind key: {external name: atProvider}}")
    parser.add_argument("--cloud-out", help="JSON file the simulated cloud and the operations are written to")
    parser.add_argument("--start-timeout", type=float, default=120.0)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
