"""The values a sheet's cell can hold and a row with its line number: shared by the readers (the
calamine and CSV one in rows.py, the streaming one in xlsx_stream.py) without either importing the
other."""

from __future__ import annotations

import datetime as dt

Cell = str | int | float | bool | dt.datetime | dt.date | dt.time | dt.timedelta
NumberedRow = tuple[int, list[Cell]]
