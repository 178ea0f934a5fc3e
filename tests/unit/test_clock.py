"""The fault engine's clocks: the real one's early end, the manual one's standing still."""

from __future__ import annotations

import asyncio

import pytest

from emulator.clock import Clock, ManualClock, NamespaceClock


async def forever() -> None:
    await asyncio.Event().wait()


async def at_once() -> str:
    return "gone"


def test_the_real_clock_ends_a_wait_when_the_watched_call_returns() -> None:
    assert asyncio.run(Clock().wait(3600, at_once())) is True


def test_the_real_clock_reports_a_wait_that_ran_its_course() -> None:
    assert asyncio.run(Clock().wait(0, forever())) is False
    assert asyncio.run(Clock().wait(0)) is False


def test_the_manual_clock_ends_a_wait_only_when_moved_past_it() -> None:
    clock = ManualClock()

    async def scenario() -> list[object]:
        waiting = asyncio.ensure_future(clock.wait(0.3, forever()))
        await asyncio.sleep(0)
        seen: list[object] = [clock.waiting, clock.asked]
        await clock._advance(0.299)
        seen.append(waiting.done())
        await clock._advance(0.001)
        seen += [await waiting, clock.waiting, clock.now()]
        return seen

    assert asyncio.run(scenario()) == [1, [0.3], False, False, 0, 0.3]


def test_the_manual_clock_reports_a_watched_call_that_returned_first() -> None:
    clock = ManualClock()
    assert asyncio.run(clock.wait(10, at_once())) is True and clock.waiting == 0


def test_a_namespace_clock_is_the_servers_plus_its_advances() -> None:
    base = ManualClock()
    clock = NamespaceClock(base)
    base.advance(2)
    assert (clock.now(), clock.wall() - base.wall()) == (2, 0)
    assert clock.advance(30) == 30
    assert (clock.now(), clock.wall() - base.wall()) == (32, 30)


def test_a_namespace_clock_never_moves_back() -> None:
    clock = NamespaceClock(ManualClock())
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert clock.offset == 0


def test_a_sleeper_wakes_when_an_advance_passes_its_moment_and_not_before() -> None:
    base = ManualClock()
    clock = NamespaceClock(base)

    async def scenario() -> list[object]:
        sleeper = asyncio.ensure_future(clock.sleep_until(3600))
        await asyncio.sleep(0)
        seen: list[object] = []
        clock.advance(3599)
        await asyncio.sleep(0)
        seen.append(sleeper.done())  # one second short
        await base._advance(0.5)
        seen.append(sleeper.done())  # the server's time, half a second short still
        clock.advance(0.5)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        seen.append(sleeper.done())
        return seen

    assert asyncio.run(scenario()) == [False, False, True]
