"""Python's cyclic garbage collector, paused while large object graphs are built.

Threading a folder builds a graph of containers that point at their parents and children
(cycles). Each allocation burst makes the collector walk the whole graph again, which took
two thirds of a 100,000-message thread audit. Nothing built there is garbage until the
report is done, so the collector waits until then.
"""

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Run the block with the cyclic collector off (reference counting still frees memory);
    it is switched back on afterwards if it was on before."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def off_until_exit() -> None:
    """For a command that builds one large graph, prints it and ends: the collector stays
    off for the rest of the process. Switching it back on would make it walk the whole graph
    once more (half a second at 100,000 messages) just before the process frees everything
    anyway."""
    gc.disable()
