"""Rate-limit headers as registries send them, and the request bound (pure: no I/O)."""

from __future__ import annotations

import pytest

from polyarch.errors import RequestLimitError
from polyarch.registry._meter import RateLimit, RequestMeter, rate_limit_of


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # Docker Hub.
        ({"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "76;w=21600"},
         RateLimit(76, 100, 21600)),
        ({"RateLimit-Limit": "200", "RateLimit-Remaining": "0", "RateLimit-Reset": "30"},
         RateLimit(0, 200, None, 30)),
        # The IETF draft's single field.
        ({"RateLimit": "limit=100, remaining=50, reset=5"}, RateLimit(50, 100, None, 5)),
        ({"RateLimit": '"default";r=7;t=12'}, None),  # a newer draft's policy items: unread
        ({"RateLimit": "r=7, t=12"}, RateLimit(7, None, None, 12)),
        ({"ratelimit-remaining": "lots"}, None),
        ({"ratelimit-remaining": "9" * 40}, None),
        ({"Content-Type": "application/json"}, None),
    ],
)  # fmt: skip
def test_rate_limits_are_read_from_what_registries_send(
    headers: dict[str, str], expected: RateLimit | None
) -> None:
    assert rate_limit_of(headers) == expected


def test_a_rate_limit_is_shown_for_people() -> None:
    assert str(RateLimit(76, 100, 21600)) == "76 of 100 left per 6 h"
    assert str(RateLimit(0, None, None, 90)) == "0 left, reset in 90 s"


def test_the_request_bound_refuses_the_request_over_it() -> None:
    meter = RequestMeter(max_requests=2)
    for _ in range(2):
        meter.before("r.example")
        meter.after("r.example", {"ratelimit-remaining": "5", "ratelimit-limit": "10"})
    with pytest.raises(RequestLimitError) as raised:
        meter.before("r.example")
    assert raised.value.exit_code == 5
    assert meter.summary() == "2 requests; r.example rate limit: 5 of 10 left"


def test_a_request_that_got_no_answer_is_not_counted() -> None:
    meter = RequestMeter(max_requests=1)
    meter.before("r.example")
    meter.failed()  # the connection was refused
    meter.before("r.example")  # still allowed: nothing was served
    meter.after("r.example", {})
    assert meter.sent == 1
