"""Import customers from a CSV file, idempotently: a row is written whole or not at all.

A row whose phone, e-mail, Telegram id or web user id already belongs to a customer updates that
customer (only the non-empty columns) and adds its new identities; any other row creates a
customer. Re-importing a file therefore creates nothing new. Problems with the file as a whole
(encoding, header, broken quoting) raise `CsvError` before anything is written; problems with
one row become a `RowError` in the report and the other rows are kept.

Speed: rows are validated and matched before anything is written, then written in batches, one
transaction each (per-row transactions cost ~13 ms a row on SQLite). A batch that hits a
unique-constraint conflict (a concurrent writer took an identity) is redone row by row, each
row in its own transaction, so a conflict costs only the row that caused it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import chain, pairwise
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store import models as m
from crm_store.enums import Channel
from crm_store.errors import CrmError, InvalidInput
from crm_store.store import CrmStore

IDENTITY_COLUMNS: dict[str, Channel] = {
    "phone": Channel.PHONE,
    "email": Channel.EMAIL,
    "telegram_id": Channel.TELEGRAM,
    "web_user_id": Channel.WEB,
}
_PROFILE = ["birth_date", "language", "timezone", "heard_about_us", "consent_marketing", "notes"]
COLUMNS = ("name", *IDENTITY_COLUMNS, *_PROFILE)
_COLUMN_OF_CHANNEL = {channel: column for column, channel in IDENTITY_COLUMNS.items()}
_COLUMN_OF_FIELD = {"full_name": "name", "web_id": "web_user_id"}
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BOM = "\ufeff"


class CsvError(CrmError):
    """The file as a whole cannot be read as a customer CSV; nothing was imported."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    created: int
    updated: int
    unchanged: int
    errors: tuple[RowError, ...]
    total: int


_Outcome = Literal["created", "updated", "unchanged"]
_Key = tuple[Channel, str]


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    profile: dict[str, Any]
    identities: tuple[_Key, ...]


def _line_at(text: str) -> int:
    """The physical line (1-based) that starts after `text`, with \\n, \\r\\n or \\r endings."""
    return text.count("\n") + text.count("\r") - text.count("\r\n") + 1


def decode(data: bytes) -> str:
    """The file as UTF-8 text, or CsvError naming the line of the first byte that is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = _line_at(data[: exc.start].decode("utf-8", "replace"))
        raise CsvError(
            line, f"is not UTF-8 (byte 0x{data[exc.start]:02x}); save it as UTF-8"
        ) from exc


def _checked_lines(lines: Iterable[str]) -> Iterator[str]:
    """Pass lines through, refusing NUL characters (a sign of a UTF-16 or binary file)."""
    for number, line in enumerate(lines, start=1):
        if "\x00" in line:
            raise CsvError(number, "contains a NUL character; is the file UTF-16 or binary?")
        yield line


def read_csv(lines: Iterable[str]) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Parse the whole file: its header (lower-cased) and its non-blank rows with their line.

    `lines` keep their line endings, as from a file opened with newline="". The delimiter is `,`,
    or `;` when the header line holds more semicolons than commas.
    """
    source = _checked_lines(lines)
    first = next(source, "").removeprefix(_BOM)
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(chain([first], source), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                raise CsvError(start, "a quoted field starting here is never closed") from exc
            raise CsvError(reader.line_num, f"is not valid CSV ({exc})") from exc
        if cells is None:
            break
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = _check_header(start, cells)
        else:
            rows.append((start, cells))
    if header is None:
        raise CsvError(1, "the file is empty; it needs a header row such as 'name,phone,email'")
    return header, rows


def _check_header(line: int, cells: list[str]) -> list[str]:
    header = [cell.strip().lower() for cell in cells]
    unknown = [cell.strip() for cell in cells if cell.strip().lower() not in COLUMNS]
    if unknown:
        hint = "" if set(header) & set(COLUMNS) else " (is the header row missing?)"
        raise CsvError(
            line,
            f"unknown column(s) {', '.join(map(repr, unknown))}{hint}; "
            f"expected some of: {', '.join(COLUMNS)}",
        )
    repeated = sorted({cell for cell in header if header.count(cell) > 1})
    if repeated:
        raise CsvError(line, f"column(s) {', '.join(map(repr, repeated))} appear more than once")
    if "name" not in header:
        raise CsvError(line, "the header has no 'name' column")
    if not set(header) & set(IDENTITY_COLUMNS):
        raise CsvError(line, f"the header needs an identity column: {', '.join(IDENTITY_COLUMNS)}")
    return header


def _parse_date(value: str) -> date:
    try:
        if _ISO_DATE.match(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise InvalidInput("birth_date", f"{value!r} is not a date in the form YYYY-MM-DD")


def _parse_bool(value: str) -> bool:
    try:
        return _BOOLEANS[value.lower()]
    except KeyError:
        raise InvalidInput(
            "consent_marketing", f"{value!r} is not one of true/false, yes/no, 1/0"
        ) from None


class CustomerImporter:
    """Import customers from CSV into a CrmStore; see the module docstring for the rules."""

    def __init__(self, store: CrmStore, *, batch_size: int = 500) -> None:
        """Write `batch_size` rows per transaction (1 to 5000: a query's parameters are finite)."""
        self._store = store
        self._batch_size = min(max(1, batch_size), 5000)
        self._timezone = store.customers.default_timezone

    async def import_file(
        self, path: Path, progress: Callable[[int], object] | None = None
    ) -> ImportReport:
        """Import a UTF-8 CSV file; `progress` gets the number of rows done since its last call."""
        text = decode(await asyncio.to_thread(path.read_bytes))
        return await self.import_lines(io.StringIO(text, newline=""), progress)

    async def import_lines(
        self, lines: Iterable[str], progress: Callable[[int], object] | None = None
    ) -> ImportReport:
        """Import from lines that keep their endings (a text stream opened with newline="")."""
        header, cells = read_csv(lines)
        counts: Counter[_Outcome] = Counter()
        errors: list[RowError] = []
        for start in range(0, len(cells), self._batch_size):
            batch: list[_Row] = []
            for line, row_cells in cells[start : start + self._batch_size]:
                try:
                    batch.append(self._parse(line, header, row_cells))
                except InvalidInput as exc:
                    errors.append(_row_error(line, exc))
            for result in await self._write(batch):
                if isinstance(result, RowError):
                    errors.append(result)
                else:
                    counts[result] += 1
            if progress is not None:
                progress(len(cells[start : start + self._batch_size]))
        return ImportReport(
            created=counts["created"],
            updated=counts["updated"],
            unchanged=counts["unchanged"],
            errors=tuple(sorted(errors, key=lambda error: error.line)),
            total=len(cells),
        )

    def _parse(self, line: int, header: list[str], cells: list[str]) -> _Row:
        if len(cells) != len(header):
            raise InvalidInput("row", f"has {len(cells)} fields but the header has {len(header)}")
        values = {  # quoted line breaks arrive as \r\n from Excel; the store keeps \n
            column: unicodedata.normalize("NFC", cell.strip().replace("\r\n", "\n"))
            for column, cell in zip(header, cells, strict=True)
            if cell.strip()
        }
        identities = tuple(
            (channel, self._store.customers.normalize(channel, values[column]))
            for column, channel in IDENTITY_COLUMNS.items()
            if column in values
        )
        if not identities:
            raise InvalidInput(
                "row", f"has no identity; fill in one of {', '.join(IDENTITY_COLUMNS)}"
            )
        profile: dict[str, Any] = {}
        for column, value in values.items():
            if column == "name":
                profile["full_name"] = value
            elif column == "birth_date":
                profile["birth_date"] = _parse_date(value)
            elif column == "consent_marketing":
                profile["consent_marketing"] = _parse_bool(value)
            elif column not in IDENTITY_COLUMNS:
                profile[column] = value
        # Validate like CustomerDirectory does (same rules, same messages) before any write.
        return _Row(line, self._store.customers.validate_profile(profile), identities)

    async def _write(self, batch: list[_Row]) -> list[_Outcome | RowError]:
        """Write a batch in one transaction; on a unique-key conflict redo it row by row."""
        if not batch:
            return []
        try:
            async with self._store.database.transaction() as session:
                owners = await self._owners(
                    session, {key for row in batch for key in row.identities}
                )
                return [await self._write_row(session, row, owners) for row in batch]
        except IntegrityError:
            if len(batch) == 1:
                conflict = "was changed by someone else meanwhile; import it again"
                return [RowError(batch[0].line, conflict)]
        return [result for row in batch for result in await self._write([row])]

    async def _owners(self, session: AsyncSession, keys: set[_Key]) -> dict[_Key, m.Customer]:
        found = await session.execute(
            select(m.Identity.channel, m.Identity.external_id, m.Customer)
            .join(m.Customer, m.Customer.id == m.Identity.customer_id)
            .where(m.Identity.external_id.in_(sorted({external_id for _, external_id in keys})))
        )
        return {(ch, ext): customer for ch, ext, customer in found if (ch, ext) in keys}

    async def _write_row(
        self, session: AsyncSession, row: _Row, owners: dict[_Key, m.Customer]
    ) -> _Outcome | RowError:
        """Apply one validated row to the batch's session, or explain why it is refused."""
        matched = [(key, owners[key]) for key in row.identities if key in owners]
        new = [key for key in row.identities if key not in owners]
        if any(customer is not matched[0][1] for _, customer in matched):
            await session.flush()  # customers created earlier in this batch get their ids
            (key_a, one), (key_b, other) = next(
                (a, b) for a, b in pairwise(matched) if a[1] is not b[1]
            )
            return RowError(
                row.line,
                f"{_COLUMN_OF_CHANNEL[key_b[0]]}: {key_b[1]!r} belongs to customer {other.id}, but "
                f"{_COLUMN_OF_CHANNEL[key_a[0]]} {key_a[1]!r} belongs to customer {one.id}; "
                "the row matches two different customers",
            )
        now = self._store.clock()
        if not matched:
            if "full_name" not in row.profile:
                return RowError(row.line, "name: is required for a new customer")
            values = {"language": "en", "consent_marketing": False, "timezone": self._timezone}
            customer = m.Customer(**(values | row.profile), created_at=now, updated_at=now)
            customer.identities = [
                m.Identity(channel=ch, external_id=ext, verified=False, created_at=now)
                for ch, ext in new
            ]
            session.add(customer)
            owners.update(dict.fromkeys(new, customer))
            return "created"
        customer = matched[0][1]
        changes = {k: v for k, v in row.profile.items() if getattr(customer, k) != v}
        for key, value in changes.items():
            setattr(customer, key, value)
        if changes:
            customer.updated_at = now
        if new and customer.id is None:
            await session.flush()
        for ch, ext in new:
            session.add(
                m.Identity(customer_id=customer.id, channel=ch, external_id=ext, created_at=now)
            )
            owners[ch, ext] = customer
        return "updated" if changes or new else "unchanged"


def _row_error(line: int, exc: InvalidInput) -> RowError:
    return RowError(line, f"{_COLUMN_OF_FIELD.get(exc.field, exc.field)}: {exc.reason}")
