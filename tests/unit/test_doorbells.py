"""A ring says whether a claim was waiting for it: the hook and event routes nudge the host's loop (which starts a
runner) only where none was, so a woken claim does not meet the loop's pass at the store."""

from __future__ import annotations

import asyncio

from sweeper.http.doorbells import Doorbells


def test_a_ring_says_whether_a_claim_was_waiting_and_wakes_it() -> None:
    async def scenario() -> tuple[bool, bool, bool, bool]:
        bells = Doorbells()
        nobody = bells.ring("a")  # no claim waits yet: whoever rang must get a runner started
        waiting = asyncio.create_task(bells.wait("a", seen=bells.count("a"), timeout_s=30))
        await asyncio.sleep(0)  # the claim is now waiting on the bell
        other = bells.ring("b")
        woken = bells.ring("a")
        return nobody, other, woken, await asyncio.wait_for(waiting, 5)

    nobody, other, woken, rang = asyncio.run(scenario())
    assert (nobody, other) == (False, False)
    assert woken and rang
