"""A page 900,000 rows deep in a 1,000,000-user table, against the first page (QUICK: a tenth)."""

import psycopg

from bench import plans
from bench.api import PAGE, stats_row
from bench.ghz import Call, Ghz
from bench.processes import running, say
from bench.report import Row
from bench.stack import Stack, plain
from usersuite.platform.service.page_tokens import PageTokenCodec

USERS = 1_000_000
QUICK_USERS = 100_000

FILL = """
INSERT INTO users (id, display_name, email, create_time, update_time, version)
SELECT 'deep-' || g, 'Deep User ' || g, 'deep' || g || '@example.com', now(), now(), 1
FROM generate_series(1, %(count)s) g
"""


def fill(stack: Stack, url: str, users: int) -> int:
    """Migrates, inserts the users and returns the keyset cursor 90% of the way in."""
    stack.migrate(url)
    with psycopg.connect(plain(url), autocommit=True) as conn:
        conn.execute(FILL, {"count": users})
        conn.execute("VACUUM ANALYZE users")
        row = conn.execute(
            "SELECT seq FROM users ORDER BY seq OFFSET %s LIMIT 1", (users * 9 // 10 - 1,)
        )
        found = row.fetchone()
    if found is None:
        raise RuntimeError("the deep table was not filled")
    return int(found[0])


def deep_page(stack: Stack, ghz: Ghz, quick: bool) -> list[Row]:
    url = stack.database("bench_deep")
    users = QUICK_USERS if quick else USERS
    say(f"filling {users:,} users")
    cursor = fill(stack, url, users)
    say("filled")
    # The token the server itself would issue after that row (same key, same request).
    token = PageTokenCodec(stack.page_token_secret.encode()).encode(cursor, "page_size=50")
    with running(stack.serve("serve-deep", url)) as server:
        target = f"127.0.0.1:{server.port()}"
        metadata = stack.metadata()
        first = Call("ListUsers", PAGE, metadata)
        deep = Call("ListUsers", {**PAGE, "page_token": token}, metadata)
        # Alternating runs: the machine's drift hits both pages alike.
        pages = ghz.measure_paired((target, first), (target, deep))
    first_page, deep = (
        stats_row("deep page", plans.FIRST_PAGE, pages[0]),
        stats_row("deep page", plans.DEEP_PAGE, pages[1], pages[0]),
    )
    deep.note = f"{users:,} users, the page after row {users * 9 // 10:,}"
    return [first_page, deep]
