"""The customer CSV importer's contract, run on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm_store import models as m
from crm_store.customers import NewCustomer
from crm_store.enums import Channel
from crm_store.importer import CsvError, CustomerImporter, ImportReport, RowError
from crm_store.store import CrmStore

HEADER = "name,phone,email,birth_date,notes"


def write_csv(tmp_path: Path, text: str, *, newline: str = "\n", name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


async def identity_count(store: CrmStore) -> int:
    async with store.database.transaction() as session:
        return int(await session.scalar(select(func.count(m.Identity.id))) or 0)


async def owner_id(store: CrmStore, channel: Channel, raw: str) -> int:
    found = await store.customers.find_by_identity(channel, raw)
    assert found is not None, raw
    return found.id


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
async def test_good_rows_are_kept_and_bad_rows_reported_with_their_line(
    store: CrmStore, tmp_path: Path, newline: str
) -> None:
    long_name = "x" * 201
    rows = [
        HEADER,  # line 1
        "Anna Weber,07700 900001,anna@example.com,1985-03-12,",  # 2
        "Bad Phone,12,,,",  # 3
        "Bad Mail,,not-an-email,,",  # 4
        "",  # 5: blank lines are skipped but still counted
        "مریم رضایی,,maryam@example.com,,",  # 6
        'Zoë 🦷 Smile,,zoe@example.com,,"first line',  # 7: a quoted notes field ...
        "second, with a comma",  # 8
        'third ""quoted"""',  # 9 ... ends here
        'Bad Multi,,bad-mail,,"a bad row',  # 10: reported at the line it starts on
        'over two lines"',  # 11
        f"{long_name},,long@example.com,,",  # 12
        "Bad Date,,date@example.com,1985-02-30,",  # 13
        "Future,,future@example.com,2030-01-01,",  # 14
        "No Identity,,,,some notes",  # 15
        "Both,07700 900001,maryam@example.com,,",  # 16
        "Extra,07700 900009,x@example.com,,notes,EXTRA",  # 17
        "Short,07700 900009",  # 18
        "Last Good,+44 7700 900010,,,",  # 19
    ]
    path = write_csv(tmp_path, "\n".join(rows) + "\n", newline=newline)

    report = await CustomerImporter(store).import_file(path)

    anna = await owner_id(store, Channel.PHONE, "07700900001")
    maryam = await owner_id(store, Channel.EMAIL, "maryam@example.com")
    assert report == ImportReport(
        created=4,
        updated=0,
        unchanged=0,
        total=14,
        errors=(
            RowError(3, "phone: '12' is not a phone number: too short"),
            RowError(4, "email: 'not-an-email' is not an e-mail address"),
            RowError(10, "email: 'bad-mail' is not an e-mail address"),
            RowError(12, "name: is 201 characters long; the limit is 200"),
            RowError(13, "birth_date: '1985-02-30' is not a date in the form YYYY-MM-DD"),
            RowError(14, "birth_date: is in the future"),
            RowError(
                15, "row: has no identity; fill in one of phone, email, telegram_id, web_user_id"
            ),
            RowError(
                16,
                f"email: 'maryam@example.com' belongs to customer {maryam}, but phone "
                f"'+447700900001' belongs to customer {anna}; the row matches two different "
                "customers",
            ),
            RowError(17, "row: has 6 fields but the header has 5"),
            RowError(18, "row: has 2 fields but the header has 5"),
        ),
    )
    assert await store.customers.count() == 4
    assert (await store.customers.get(anna)).birth_date == date(1985, 3, 12)
    assert (await store.customers.get(maryam)).full_name == "مریم رضایی"
    zoe = await store.customers.get(await owner_id(store, Channel.EMAIL, "zoe@example.com"))
    assert zoe.full_name == "Zoë 🦷 Smile"
    assert zoe.notes == 'first line\nsecond, with a comma\nthird "quoted"'
    for raw in ["long@example.com", "date@example.com", "future@example.com", "x@example.com"]:
        assert await store.customers.find_by_identity(Channel.EMAIL, raw) is None


async def test_reimporting_the_same_file_creates_nothing(store: CrmStore, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "Name,Email,Phone,Telegram_ID,Web_User_ID,Language,Timezone,Consent_Marketing\n"
        "Anna,anna@example.com,07700 900001,123456789,anna-web,de,Europe/Berlin,yes\n"
        "Ben,ben@example.com,,,,,,no\n"
        "Bad,,12,,,,,\n",
    )
    importer = CustomerImporter(store)
    first = await importer.import_file(path)
    assert (first.created, first.updated, first.unchanged, first.total) == (2, 0, 0, 3)
    assert [error.line for error in first.errors] == [4]
    identities = await identity_count(store)
    assert identities == 5

    again = await importer.import_file(path)

    assert (again.created, again.updated, again.unchanged, again.total) == (0, 0, 2, 3)
    assert again.errors == first.errors
    assert await store.customers.count() == 2
    assert await identity_count(store) == identities
    anna = await store.customers.get(await owner_id(store, Channel.TELEGRAM, "123456789"))
    assert (anna.language, anna.timezone, anna.consent_marketing) == ("de", "Europe/Berlin", True)


async def test_a_row_matching_by_email_updates_only_its_non_empty_columns(
    store: CrmStore, tmp_path: Path
) -> None:
    existing = await store.customers.create(
        NewCustomer("Anna Weber", language="de", notes="prefers mornings"),
        [(Channel.EMAIL, "anna@example.com")],
    )
    path = write_csv(
        tmp_path,
        "name,email,phone,timezone,notes,heard_about_us,consent_marketing\n"
        "Anna M. Weber,anna@EXAMPLE.com,07700 900001,Europe/Berlin,,A friend,TRUE\n",
    )

    report = await CustomerImporter(store).import_file(path)

    assert report == ImportReport(created=0, updated=1, unchanged=0, errors=(), total=1)
    assert await store.customers.count() == 1
    updated = await store.customers.get(existing.id)
    assert (updated.full_name, updated.timezone, updated.heard_about_us) == (
        "Anna M. Weber",
        "Europe/Berlin",
        "A friend",
    )
    assert (updated.language, updated.notes, updated.consent_marketing) == (
        "de",
        "prefers mornings",
        True,
    )
    assert await owner_id(store, Channel.PHONE, "+447700900001") == existing.id


@pytest.mark.parametrize("batch_size", [1, 500])
async def test_later_rows_see_customers_created_by_earlier_rows(
    store: CrmStore, tmp_path: Path, batch_size: int
) -> None:
    path = write_csv(
        tmp_path,
        "name,email,phone,web_user_id\n"
        "Anna,anna@example.com,,\n"  # 2: created
        "Anna Weber,anna@example.com,07700 900001,\n"  # 3: renamed, phone added
        "Anna,,07700 900001,anna-web\n"  # 4: found by phone, renamed back, web id added
        "Ben,ben@example.com,,\n"  # 5: created
        "Mix,ben@example.com,07700 900001,\n"  # 6: Anna's phone and Ben's e-mail
        "Anna,anna@example.com,,anna-web\n",  # 7: nothing new
    )

    report = await CustomerImporter(store, batch_size=batch_size).import_file(path)

    anna = await owner_id(store, Channel.EMAIL, "anna@example.com")
    ben = await owner_id(store, Channel.EMAIL, "ben@example.com")
    assert anna != ben
    assert report == ImportReport(
        created=2,
        updated=2,
        unchanged=1,
        total=6,
        errors=(
            RowError(
                6,
                f"email: 'ben@example.com' belongs to customer {ben}, but phone '+447700900001' "
                f"belongs to customer {anna}; the row matches two different customers",
            ),
        ),
    )
    assert (await store.customers.get(anna)).full_name == "Anna"
    assert (await store.customers.get(ben)).full_name == "Ben"
    assert await owner_id(store, Channel.WEB, "anna-web") == anna
    assert await owner_id(store, Channel.PHONE, "07700 900001") == anna
    assert await identity_count(store) == 4


async def test_a_failing_row_writes_nothing(store: CrmStore, tmp_path: Path) -> None:
    anna = await store.customers.create(NewCustomer("Anna"), [(Channel.PHONE, "07700 900001")])
    ben = await store.customers.create(NewCustomer("Ben"), [(Channel.EMAIL, "ben@example.com")])
    path = write_csv(
        tmp_path,
        "name,phone,email,web_user_id,timezone\n"
        "Anna Renamed,07700 900001,anna@example.com,anna-web,Mars/Olympus\n"
        "Mixed,07700 900001,ben@example.com,mixed-web,\n"
        "New Person,,new@example.com,new-web,Mars/Olympus\n"
        " ,,nameless@example.com,,\n",
    )

    report = await CustomerImporter(store).import_file(path)

    assert report.errors == (
        RowError(2, "timezone: 'Mars/Olympus' is not a known time zone"),
        RowError(
            3,
            f"email: 'ben@example.com' belongs to customer {ben.id}, but phone '+447700900001' "
            f"belongs to customer {anna.id}; the row matches two different customers",
        ),
        RowError(4, "timezone: 'Mars/Olympus' is not a known time zone"),
        RowError(5, "name: is required for a new customer"),
    )
    assert (report.created, report.updated, report.unchanged) == (0, 0, 0)
    assert await store.customers.count() == 2
    assert (await store.customers.get(anna.id)).full_name == "Anna"
    assert await identity_count(store) == 2
    for channel, raw in [
        (Channel.EMAIL, "anna@example.com"),
        (Channel.WEB, "anna-web"),
        (Channel.WEB, "mixed-web"),
        (Channel.EMAIL, "new@example.com"),
        (Channel.WEB, "new-web"),
        (Channel.EMAIL, "nameless@example.com"),
    ]:
        assert await store.customers.find_by_identity(channel, raw) is None, raw


async def test_a_batch_that_hits_a_conflict_is_redone_row_by_row(
    store: CrmStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stale lookup (as when someone else writes meanwhile) must not lose or duplicate rows."""
    existing = await store.customers.create(NewCustomer("Anna"), [(Channel.EMAIL, "a@example.com")])
    importer = CustomerImporter(store)
    real_owners = importer._owners
    calls: list[int] = []

    async def stale_once(session: object, keys: set[tuple[Channel, str]]) -> dict[object, object]:
        calls.append(len(keys))
        return {} if len(calls) == 1 else dict(await real_owners(session, keys))  # type: ignore[arg-type]

    monkeypatch.setattr(importer, "_owners", stale_once)
    path = write_csv(
        tmp_path, "name,email\nBen,b@example.com\nAnna Weber,a@example.com\nCleo,c@example.com\n"
    )

    report = await importer.import_file(path)

    assert calls == [3, 1, 1, 1]
    assert report == ImportReport(created=2, updated=1, unchanged=0, errors=(), total=3)
    assert await store.customers.count() == 3
    assert (await store.customers.get(existing.id)).full_name == "Anna Weber"


async def test_progress_reports_rows_done_since_the_last_call(
    store: CrmStore, tmp_path: Path
) -> None:
    lines = [f"Customer {i},c{i}@example.com" for i in range(5)]
    path = write_csv(tmp_path, "name,email\n" + "\n".join(lines) + "\nBad,nope\n")
    seen: list[int] = []

    report = await CustomerImporter(store, batch_size=2).import_file(path, progress=seen.append)

    assert seen == [2, 2, 2]
    assert (report.created, report.total, len(report.errors)) == (5, 6, 1)


async def test_utf8_bom_and_semicolons_are_accepted(store: CrmStore, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("NAME;Email\r\nZoë;zoe@example.com\r\n".encode("utf-8-sig"))

    report = await CustomerImporter(store).import_file(path)

    assert report == ImportReport(created=1, updated=0, unchanged=0, errors=(), total=1)
    found = await store.customers.find_by_identity(Channel.EMAIL, "zoe@example.com")
    assert found is not None and found.full_name == "Zoë"


Importer = Callable[[Path], Awaitable[ImportReport]]


@pytest.mark.parametrize(
    ("content", "line", "reason"),
    [
        (b"", 1, "the file is empty; it needs a header row such as 'name,phone,email'"),
        (b"\n\n", 1, "the file is empty; it needs a header row such as 'name,phone,email'"),
        (
            b"Anna,07700 900001\n",
            1,
            "unknown column(s) 'Anna', '07700 900001' (is the header row missing?); expected "
            "some of: name, phone, email, telegram_id, web_user_id, birth_date, language, "
            "timezone, heard_about_us, consent_marketing, notes",
        ),
        (
            b"name,email,Favourite Colour\n",
            1,
            "unknown column(s) 'Favourite Colour'; expected some of: name, phone, email, "
            "telegram_id, web_user_id, birth_date, language, timezone, heard_about_us, "
            "consent_marketing, notes",
        ),
        (b"email,phone\nx@example.com,\n", 1, "the header has no 'name' column"),
        (
            b"name,notes\nAnna,hi\n",
            1,
            "the header needs an identity column: phone, email, telegram_id, web_user_id",
        ),
        (b"name,email,EMAIL\n", 1, "column(s) 'email' appear more than once"),
        (
            b'name,email\nAnna,a@example.com\n"Ben,b@example.com\nCleo,c@example.com\n',
            3,
            "a quoted field starting here is never closed",
        ),
        (
            b'name,email\nAnna,a@example.com\n"Ben"x,b@example.com\n',
            3,
            "is not valid CSV (',' expected after '\"')",
        ),
        (
            b"name,email\nAnna,a@example.com\nBen\x00,b@example.com\n",
            3,
            "contains a NUL character; is the file UTF-16 or binary?",
        ),
        (
            "name,email\nAnna,a@example.com\n".encode("utf-16"),
            1,
            "is not UTF-8 (byte 0xff); save it as UTF-8",
        ),
        (
            b"name,email\r\nAnna,a@example.com\r\nM\xfcller,m@example.com\r\n",
            3,
            "is not UTF-8 (byte 0xfc); save it as UTF-8",
        ),
    ],
)
async def test_a_malformed_file_is_refused_whole_with_its_line(
    store: CrmStore, tmp_path: Path, content: bytes, line: int, reason: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)

    with pytest.raises(CsvError) as caught:
        await CustomerImporter(store).import_file(path)

    assert (caught.value.line, caught.value.reason) == (line, reason)
    assert str(caught.value) == f"line {line}: {reason}"
    assert await store.customers.count() == 0


async def test_import_lines_reads_a_text_stream(store: CrmStore, tmp_path: Path) -> None:
    path = write_csv(tmp_path, '\ufeffname,web_user_id,notes\nAnna,anna,"two\nlines"\nBen,b c,\n')
    with path.open(encoding="utf-8", newline="") as stream:
        report = await CustomerImporter(store).import_lines(stream)
    assert report.created == 1
    assert report.errors == (
        RowError(4, "web_user_id: 'b c' must be 1-128 letters, digits or . _ : @ -"),
    )
