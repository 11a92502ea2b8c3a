"""`items_page(query_params:)`: monday's rules, nested and/or groups, `order_by` and `ids`.

Dates compare by whole days in the token user's timezone, as monday's do, so `__last_updated__`
with `["EXACT", "2026-12-01"]` means "updated on 1 December where the caller lives".
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monday_sandbox import columns
from monday_sandbox.errors import invalid_argument
from monday_sandbox.model import Board, Column, Item
from monday_sandbox.state import Sandbox

Predicate = Callable[[Item], bool]
DayRange = tuple[date, date]
MAX_IDS = 100
_FAR_PAST = date(1, 1, 1)
_FAR_FUTURE = date(9999, 12, 31)
_EMPTY_STATUS_ID = 5


class QueryCompiler:
    """Turns an `ItemsQuery` into a predicate and a sort, for one board and one caller."""

    def __init__(self, sandbox: Sandbox, board: Board, timezone: str) -> None:
        self.sandbox = sandbox
        self.board = board
        try:
            self.tz = ZoneInfo(timezone)
        except (KeyError, ValueError):
            self.tz = ZoneInfo("UTC")
        self.now = sandbox.clock.now()
        self.today = self.now.astimezone(self.tz).date()

    # ----------------------------------------------------------------- entry point
    def apply(self, items: list[Item], params: dict[str, Any]) -> list[Item]:
        ids = params.get("ids")
        if ids:
            if len(ids) > MAX_IDS:
                raise invalid_argument(f"ids can contain at most {MAX_IDS} elements", ids_count=len(ids))
            wanted = {int(i) for i in ids if str(i).isdigit()}
            items = [item for item in items if item.id in wanted]
        predicate = self._group(params)
        if predicate is not None:
            items = [item for item in items if predicate(item)]
        for order in reversed(params.get("order_by") or []):
            key = self._sort_key(str(order["column_id"]))
            items = sorted(items, key=key, reverse=order.get("direction") == "desc")
        return items

    def _group(self, group: dict[str, Any]) -> Predicate | None:
        parts = [self._rule(rule) for rule in group.get("rules") or []]
        parts += [p for p in (self._group(g) for g in group.get("groups") or []) if p is not None]
        if not parts:
            return None
        if group.get("operator") == "or":
            return lambda item: any(p(item) for p in parts)
        return lambda item: all(p(item) for p in parts)

    # ----------------------------------------------------------------- rules
    def _rule(self, rule: dict[str, Any]) -> Predicate:
        column_id = str(rule["column_id"])
        operator = rule.get("operator") or "any_of"
        values = rule.get("compare_value")
        if not isinstance(values, list):
            values = [] if values is None else [values]
        attribute = rule.get("compare_attribute")
        if column_id == "__last_updated__":
            if attribute is None and values and all(str(v).startswith("person-") for v in values):
                return lambda item: False
            return self._date_rule(operator, values, lambda item: item.updated_at)
        if column_id == "__creation_log__":
            if attribute == "CREATED_BY":
                users = {_int_or_none(str(v).removeprefix("person-")) for v in values}
                return _negate(operator, lambda item: item.creator_id in users)
            return self._date_rule(operator, values, lambda item: item.created_at)
        if column_id == "name":
            return self._text_rule(operator, values, lambda item: item.name)
        column = self.board.columns.get(column_id)
        if column is None or column.archived:
            raise invalid_argument(
                f"Column {column_id} not found on board {self.board.id}", column_id=column_id
            )
        return self._column_rule(column, operator, values, attribute)

    def _column_rule(self, column: Column, operator: str, values: list[Any], attribute: Any) -> Predicate:
        ctype = column.type
        cid = column.id
        text_of = self._text_getter(column)
        if operator in ("is_empty", "is_not_empty"):
            wants_empty = operator == "is_empty"
            return lambda item: _is_empty(item.values.get(cid), text_of(item)) is wants_empty
        if operator in ("contains_text", "not_contains_text", "starts_with", "ends_with", "contains_terms"):
            return self._text_rule(operator, values, text_of)
        if ctype in ("date", "timeline", "creation_log", "last_updated"):
            return self._date_rule(operator, values, self._date_getter(column, attribute))
        if ctype in ("numbers", "rating") and operator in _NUMERIC_OPS:
            return self._numeric_rule(operator, values, column)
        if operator in ("any_of", "not_any_of"):
            return _negate(operator, self._any_of(column, values, text_of))
        raise invalid_argument(f"Operator {operator} is not supported for column type {ctype}", column_id=cid)

    def _any_of(self, column: Column, values: list[Any], text_of: Callable[[Item], str]) -> Predicate:
        cid = column.id
        ctype = column.type
        if ctype == "status":
            wanted = {v for v in values if isinstance(v, int) and not isinstance(v, bool)}
            match_empty = _EMPTY_STATUS_ID in wanted

            def status(item: Item) -> bool:
                stored = item.values.get(cid)
                index = stored.get("index") if isinstance(stored, dict) else None
                if index is None:
                    return match_empty
                return index in wanted

            return status
        keys = {str(v) for v in values}
        if ctype in ("people", "tags", "dropdown", "board_relation", "dependency", "checkbox"):
            blank = bool(keys & {"person-0", "-1", "$$$blank$$$"})
            return lambda item: _ids_match(ctype, item.values.get(cid), keys, blank)
        return lambda item: (text_of(item) or "") in keys or (not text_of(item) and "$$$blank$$$" in keys)

    def _text_rule(self, operator: str, values: list[Any], text_of: Callable[[Item], Any]) -> Predicate:
        needles = [str(v).lower() for v in values]

        def text(item: Item) -> str:
            return str(text_of(item) or "").lower()

        if operator == "starts_with":
            return lambda item: any(text(item).startswith(n) for n in needles)
        if operator == "ends_with":
            return lambda item: any(text(item).endswith(n) for n in needles)
        if operator == "not_contains_text":
            return lambda item: not any(n in text(item) for n in needles)
        if operator == "contains_terms":
            return lambda item: any(all(t in text(item) for t in n.split()) for n in needles)
        if operator in ("any_of", "not_any_of"):
            return _negate(operator, lambda item: text(item) in needles)
        return lambda item: any(n in text(item) for n in needles)

    def _numeric_rule(self, operator: str, values: list[Any], column: Column) -> Predicate:
        cid = column.id
        bounds = [b for b in (_float(v) for v in values) if b is not None]
        if not bounds:
            raise invalid_argument("compare_value must hold numbers", column_id=cid)

        def number(item: Item) -> float | None:
            stored = item.values.get(cid)
            if isinstance(stored, dict):
                stored = stored.get("rating", stored.get("number"))
            return _float(stored)

        return _compare(operator, bounds, number)

    # ----------------------------------------------------------------- dates
    def _date_rule(self, operator: str, values: list[Any], moment: Callable[[Item], Any]) -> Predicate:
        ranges = self._day_ranges(values)
        past_future = {str(v) for v in values} & {"PAST_DATETIME", "FUTURE_DATETIME"}

        def day(item: Item) -> date | None:
            value = moment(item)
            if isinstance(value, datetime):
                return value.astimezone(self.tz).date()
            return value if isinstance(value, date) else None

        if operator in ("any_of", "not_any_of"):

            def any_day(item: Item) -> bool:
                value = moment(item)
                if isinstance(value, datetime) and past_future:
                    if "PAST_DATETIME" in past_future and value <= self.now:
                        return True
                    if "FUTURE_DATETIME" in past_future and value > self.now:
                        return True
                d = day(item)
                return d is not None and any(lo <= d <= hi for lo, hi in ranges)

            return _negate(operator, any_day)
        if not ranges:
            raise invalid_argument('compare_value must hold dates such as ["EXACT", "2026-01-31"]')
        if operator == "between":
            lo, hi = ranges[0][0], ranges[-1][1]
            return lambda item: (d := day(item)) is not None and lo <= d <= hi
        bound_lo, bound_hi = ranges[0]
        checks: dict[str, Callable[[date], bool]] = {
            "greater_than": lambda d: d > bound_hi,
            "greater_than_or_equals": lambda d: d >= bound_lo,
            "lower_than": lambda d: d < bound_lo,
            "lower_than_or_equal": lambda d: d <= bound_hi,
        }
        check = checks.get(operator)
        if check is None:
            raise invalid_argument(f"Operator {operator} is not supported for dates")
        return lambda item: (d := day(item)) is not None and check(d)

    def _day_ranges(self, values: list[Any]) -> list[DayRange]:
        out: list[DayRange] = []
        for raw in values:
            token = str(raw)
            if token in ("EXACT", "PAST_DATETIME", "FUTURE_DATETIME", "$$$blank$$$"):
                continue
            relative = self._relative(token)
            if relative is not None:
                out.append(relative)
                continue
            try:
                day = date.fromisoformat(token[:10])
            except ValueError:
                raise invalid_argument(f"Invalid date value: {token}") from None
            out.append((day, day))
        return out

    def _relative(self, token: str) -> DayRange | None:
        today = self.today
        week_start = today - timedelta(days=(today.weekday() + 1) % 7)  # weeks start on Sunday
        month_start = today.replace(day=1)
        last_month_end = month_start - timedelta(days=1)
        month_end = today.replace(day=calendar.monthrange(today.year, today.month)[1])
        table: dict[str, DayRange] = {
            "TODAY": (today, today),
            "YESTERDAY": (today - timedelta(days=1), today - timedelta(days=1)),
            "TOMORROW": (today + timedelta(days=1), today + timedelta(days=1)),
            "THIS_WEEK": (week_start, week_start + timedelta(days=6)),
            "LAST_WEEK": (week_start - timedelta(days=7), week_start - timedelta(days=1)),
            "ONE_WEEK_AGO": (week_start - timedelta(days=7), week_start - timedelta(days=1)),
            "ONE_WEEK_FROM_NOW": (week_start + timedelta(days=7), week_start + timedelta(days=13)),
            "THIS_MONTH": (month_start, month_end),
            "LAST_MONTH": (last_month_end.replace(day=1), last_month_end),
            "ONE_MONTH_AGO": (last_month_end.replace(day=1), last_month_end),
            "ONE_MONTH_FROM_NOW": (month_end + timedelta(days=1), _month_after(month_end)),
            "UPCOMING": (today + timedelta(days=1), _FAR_FUTURE),
            "OVERDUE": (_FAR_PAST, today - timedelta(days=1)),
        }
        return table.get(token)

    def _date_getter(self, column: Column, attribute: Any) -> Callable[[Item], Any]:
        cid = column.id
        if column.type == "creation_log":
            return lambda item: item.created_at
        if column.type == "last_updated":
            return lambda item: item.updated_at
        key = "to" if column.type == "timeline" and attribute == "END_DATE" else "from"

        def stored_date(item: Item) -> Any:
            stored = item.values.get(cid)
            if not isinstance(stored, dict):
                return None
            raw = stored.get("date") if column.type == "date" else stored.get(key)
            try:
                if column.type == "date" and stored.get("time"):
                    return datetime.fromisoformat(f"{raw}T{stored['time']}+00:00")
                return date.fromisoformat(str(raw)[:10])
            except (TypeError, ValueError):
                return None

        return stored_date

    def _text_getter(self, column: Column) -> Callable[[Item], str]:
        sandbox = self.sandbox

        def text(item: Item) -> str:
            return columns.render_text(column, item.values.get(column.id), sandbox, item) or ""

        return text

    def _sort_key(self, column_id: str) -> Callable[[Item], Any]:
        if column_id == "__last_updated__":
            return lambda item: (item.updated_at, item.id)
        if column_id == "__creation_log__":
            return lambda item: (item.created_at, item.id)
        if column_id == "name":
            return lambda item: item.name.lower()
        column = self.board.columns.get(column_id)
        if column is None or column.archived:
            raise invalid_argument(
                f"Column {column_id} not found on board {self.board.id}", column_id=column_id
            )
        text_of = self._text_getter(column)

        def key(item: Item) -> tuple[int, float, str]:
            text = text_of(item)
            number = _float(text)
            return (0 if number is not None else 1, number or 0.0, text.lower())

        return key


_NUMERIC_OPS = (
    "greater_than",
    "greater_than_or_equals",
    "lower_than",
    "lower_than_or_equal",
    "between",
    "any_of",
    "not_any_of",
)


def _compare(operator: str, bounds: list[float], number: Callable[[Item], float | None]) -> Predicate:
    first = bounds[0]
    last = bounds[-1]
    checks: dict[str, Callable[[float], bool]] = {
        "greater_than": lambda n: n > first,
        "greater_than_or_equals": lambda n: n >= first,
        "lower_than": lambda n: n < first,
        "lower_than_or_equal": lambda n: n <= first,
        "between": lambda n: first <= n <= last,
        "any_of": lambda n: n in bounds,
    }
    if operator == "not_any_of":
        return lambda item: (n := number(item)) is None or n not in bounds
    check = checks[operator]
    return lambda item: (n := number(item)) is not None and check(n)


def _negate(operator: str, predicate: Predicate) -> Predicate:
    if operator.startswith("not_"):
        return lambda item: not predicate(item)
    return predicate


def _ids_match(ctype: str, stored: Any, keys: set[str], blank: bool) -> bool:
    found = _stored_ids(ctype, stored)
    if not found:
        return blank
    return bool(found & keys)


def _stored_ids(ctype: str, stored: Any) -> set[str]:
    if not isinstance(stored, dict):
        return set()
    if ctype == "people":
        return {f"{e.get('kind', 'person')}-{e.get('id')}" for e in stored.get("personsAndTeams") or []} | {
            str(e.get("id")) for e in stored.get("personsAndTeams") or []
        }
    if ctype == "tags":
        return {str(i) for i in stored.get("tag_ids") or []}
    if ctype == "dropdown":
        return {str(i) for i in stored.get("ids") or []}
    if ctype == "checkbox":
        return {"v"} if str(stored.get("checked")).lower() == "true" else set()
    linked = stored.get("linkedPulseIds") or []
    return {str(e.get("linkedPulseId")) for e in linked} | {str(i) for i in stored.get("item_ids") or []}


def _is_empty(stored: Any, text: str) -> bool:
    if stored is None or stored == "" or stored == {}:
        return True
    return not text


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int_or_none(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _month_after(day: date) -> date:
    start = day + timedelta(days=1)
    return start.replace(day=calendar.monthrange(start.year, start.month)[1])
