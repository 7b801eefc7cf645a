"""The `consult` command. Serving patches for eventlet or gevent before anything else loads."""
import os
import sys


def _async_mode(argv):
    for i, arg in enumerate(argv):
        if arg.startswith("--async-mode="):
            return arg.split("=", 1)[1]
        if arg == "--async-mode" and i + 1 < len(argv):
            return argv[i + 1]
    from .config import ASYNC_MODE

    return os.environ.get("CONSULT_ASYNC_MODE") or ASYNC_MODE


def main():
    argv = sys.argv[1:]
    if argv[:1] == ["serve"]:
        mode = _async_mode(argv)
        os.environ["CONSULT_ASYNC_MODE"] = mode
        from .server import patch

        patch(mode)
    elif not os.environ.get("CONSULT_ASYNC_MODE"):
        # Other commands serve nothing: keep them off eventlet and its import warning.
        os.environ["CONSULT_ASYNC_MODE"] = "threading"
    from .cli import cli

    cli.main(args=argv, prog_name="consult")


if __name__ == "__main__":
    main()
