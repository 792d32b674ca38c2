"""The sending window: notices that are not direct replies go out only in local daytime.

Windows are half-open ``[start, end)`` in the subscriber's local wall time, so with the
default 08:00–22:00 a notice may go at 21:59 but not at 22:00. A window whose start is
after its end spans midnight. Openings are found in wall time and then converted, so a
zone with daylight saving time still opens at the configured local hour.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

Window = tuple[time, time]


def in_window(local_time: time, window: Window) -> bool:
    """Whether a notice may be sent at this local wall time."""
    start, end = window
    if start == end:
        return True
    if start < end:
        return start <= local_time < end
    return local_time >= start or local_time < end


def next_window_opening(at_utc: datetime, zone: str, window: Window) -> datetime:
    """The first instant at or after ``at_utc`` at which the window opens, as aware UTC."""
    tz = ZoneInfo(zone)
    wall = at_utc.astimezone(tz)
    day = wall.date()
    while True:
        opening = datetime.combine(day, window[0], tzinfo=tz).astimezone(UTC)
        if opening >= at_utc:
            return opening
        day += timedelta(days=1)


def send_after(at_utc: datetime, zone: str, window: Window) -> datetime:
    """When a notice queued at ``at_utc`` may go: at once inside the window, else at opening."""
    if in_window(at_utc.astimezone(ZoneInfo(zone)).time(), window):
        return at_utc
    return next_window_opening(at_utc, zone, window)
