"""Strategy pages: the list, the editor (steps added, moved, removed, saved; field errors with the
form kept, 400), the preview panel (its numbers are the API preview's), runs (dry run, by whom),
results; every role (write, read-only, agents: they look, buttons hidden, 403 on POST) and another
organisation's strategy (404 on every page)."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from arrears.db import transaction
from arrears.strategies.models import Strategy, StrategyRun, StrategyStep
from tests.faces.repaysync.conftest import RS
from tests.strategies.helpers import book, row, strategy, template


@pytest.fixture
def rs(client, world) -> RS:
    """Organisations and members through the API (the strategies tests' builders use them)."""
    return RS(client, world)


def _form(name: str, steps: list[dict[str, str]], **extra: str) -> dict[str, str]:
    data = {"name": name, "priority": "100", "runTime": "08:00", "challengerPercent": "0", **extra}
    for i, s in enumerate(steps):
        for k, v in s.items():
            data[f"steps[{i}].{k}"] = v
    return data


async def _steps(sid: uuid.UUID) -> list[StrategyStep]:
    async with transaction() as s:
        return list(await s.scalars(select(StrategyStep).where(StrategyStep.strategy_id == sid)
                                    .order_by(StrategyStep.position)))


async def test_the_editor_adds_moves_and_saves_steps_and_shows_field_errors(rs, people):
    t = await rs.tenant()
    sms, mail = await template(t), await template(t, channel="email")
    ui, _ = await people(t.org.id, role="manager")
    r = await ui.get("/app/strategies/new")
    assert r.status_code == 200 and 'name="steps[0].action"' in r.text and "Add a step" in r.text
    letter_tpl = re.search(r'<option value="([^"]+)">[^<]+ \(built in\)</option>', r.text)
    assert letter_tpl, "the letter template picker lists the built-in templates"
    first = {"action": "sms", "minDaysPastDue": "30", "messageTemplateId": sms, "waitDays": "7"}
    second = {"action": "call_task", "minDaysPastDue": "60", "minBalance": "100.50"}
    # Add a step: the form comes back with one more, unsaved.
    r = await ui.post("/app/strategies", _form("Gentle", [first], op="add"))
    assert r.status_code == 200 and 'name="steps[1].action"' in r.text and 'name="steps[2].action"' not in r.text
    # Move the second up: the call comes first.
    r = await ui.post("/app/strategies", _form("Gentle", [first, second], op="up-1"))
    assert r.status_code == 200
    assert r.text.index('value="call_task" selected') < r.text.index('value="sms" selected')
    async with transaction() as s:
        assert await s.scalar(select(Strategy.id).where(Strategy.org_id == t.org.id)) is None  # nothing saved yet
    third = {"action": "email", "minDaysPastDue": "90", "messageTemplateId": mail, "variant": "B",
             "repeatDays": "14"}
    letter = {"action": "letter", "minDaysPastDue": "120", "letterTemplateId": letter_tpl.group(1),
              "letterDelivery": "print"}
    r = await ui.post("/app/strategies", _form("Gentle", [first, second, third, letter], op="save", isDefault="1",
                                               challengerPercent="20", **{"segment.minBalance": "50",
                                                                          "segment.oldestBuckets": "d30"}))
    assert r.status_code == 303, r.text
    sid = uuid.UUID(r.headers["location"].rsplit("/", 1)[1])
    steps = await _steps(sid)
    assert [(s.position, s.action, s.min_days_past_due, s.variant) for s in steps] == [
        (1, "sms", 30, None), (2, "call_task", 60, None), (3, "email", 90, "B"), (4, "letter", 120, None)]
    assert str(steps[3].letter_template_id) == letter_tpl.group(1) and steps[3].letter_delivery == "print"
    assert steps[0].letter_delivery == "email"  # the default (a letter step's own choice)
    assert str(steps[0].message_template_id) == sms and steps[0].wait_days == 7 and steps[2].repeat_days == 14
    assert str(steps[1].min_balance) == "100.50"
    async with transaction() as s:
        st = await s.get(Strategy, sid)
        assert st.is_default and st.challenger_percent == 20 and st.oldest_buckets == ["d30"]
    assert "Strategy Gentle saved." in ui.followed.text

    # Remove the first step and save: the others keep their ids, renumbered.
    r = await ui.get(f"/app/strategies/{sid}")
    ids = re.findall(r'name="steps\[\d+\]\.id" value="([^"]+)"', r.text)
    assert ids == [str(s.id) for s in steps]
    assert f'<option value="{letter_tpl.group(1)}" selected>' in r.text  # the picker shows the saved choice
    assert '<option value="print" selected>All printed, none e-mailed</option>' in r.text
    r = await ui.post(f"/app/strategies/{sid}", _form("Gentle", [first | {"id": ids[0]}, second | {"id": ids[1]},
                                                                third | {"id": ids[2]}], op="remove-0"))
    assert r.status_code == 200 and 'name="steps[2].action"' not in r.text
    r = await ui.post(f"/app/strategies/{sid}", _form("Gentle", [second | {"id": ids[1]}, third | {"id": ids[2]}],
                                                      op="save"))
    assert r.status_code == 303
    assert [(str(s.id), s.position) for s in await _steps(sid)] == [(ids[1], 1), (ids[2], 2)]

    # Bad input: 400, the form as typed, each error beside its field.
    bad = _form("", [{"action": "sms", "minDaysPastDue": "soon"}, {"action": "hand_over"}], op="save",
                **{"segment.minBalance": "lots", "segment.customerConditions": "city eq Durban\nnonsense"})
    r = await ui.post(f"/app/strategies/{sid}", bad)
    assert r.status_code == 400
    for name in ("name", "segment.minBalance", "segment.customerConditions", "steps[0].minDaysPastDue",
                 "steps[0].messageTemplateId", "steps[1].handOverTo"):
        assert f'id="{name}-error"' in r.text, name
    assert 'value="soon"' in r.text and "city eq Durban" in r.text  # kept as typed
    assert [str(s.id) for s in await _steps(sid)] == ids[1:3]  # nothing changed
    # Another strategy's name is refused beside the name.
    r = await ui.post("/app/strategies", _form("gentle", [second]) | {"op": "save"})
    assert r.status_code == 400 and 'id="name-error"' in r.text and "Another strategy has this name" in r.text


async def test_every_role_reads_only_managers_and_admins_write(rs, people):
    t = await rs.tenant()
    sms = await template(t)
    sid = await strategy(t, [{"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 30}], name="Zebra plan")
    form = _form("Zebra plan", [{"action": "sms", "messageTemplateId": sms, "minDaysPastDue": "1"}], op="save")
    for role, access in (("admin", "write"), ("manager", "write")):
        ui, _ = await people(t.org.id, role=role, access=access)
        r = await ui.get("/app/strategies")
        assert r.status_code == 200 and "Zebra plan" in r.text and "New strategy" in r.text and ">Pause<" in r.text
        assert 'href="/app/strategies"' in r.text  # in the menu
        r = await ui.get(f"/app/strategies/{sid}")
        assert "Save strategy" in r.text and "disabled" not in r.text.split('id="strategy-form"')[1][:400]
        assert (await ui.get(f"/app/strategies/{sid}/results")).status_code == 200
        r = await ui.post(f"/app/strategies/{sid}/pause")
        assert r.status_code == 303 and "Paused" in ui.followed.text
        assert (await ui.post(f"/app/strategies/{sid}/resume")).status_code == 303
    for role, access in (("admin", "read"), ("manager", "read"), ("calling_agent", "write"),
                         ("field_officer", "write"), ("collection_officer", "write")):
        ui, _ = await people(t.org.id, role=role, access=access)
        r = await ui.get("/app/strategies")
        assert r.status_code == 200 and "Zebra plan" in r.text, role
        assert "New strategy" not in r.text and ">Pause<" not in r.text
        r = await ui.get(f"/app/strategies/{sid}")
        assert r.status_code == 200 and "Save strategy" not in r.text and "disabled" in r.text
        r = await ui.get(f"/app/strategies/{sid}/runs")
        assert r.status_code == 200 and 'id="start-run"' not in r.text
        assert (await ui.get("/app/strategies/new")).status_code == 403
        for path, data in ((f"/app/strategies/{sid}", form), ("/app/strategies", form),
                           (f"/app/strategies/{sid}", form | {"op": "add"}), (f"/app/strategies/{sid}/pause", {}),
                           (f"/app/strategies/{sid}/runs", {"dry_run": "1"})):
            assert (await ui.post(path, data)).status_code == 403, (role, path)
        results_status = (await ui.get(f"/app/strategies/{sid}/results")).status_code
        assert results_status == (200 if role in ("admin", "manager") else 403), role
        assert ("/results" in r.text) == (role in ("admin", "manager"))
    async with transaction() as s:
        st = await s.get(Strategy, sid)
        assert not st.paused and st.name == "Zebra plan"
        assert await s.scalar(select(StrategyRun.id)) is None
    # Another organisation's manager: 404 on every page and form.
    other = await rs.tenant("Elsewhere")
    ui, _ = await people(other.org.id, role="manager")
    for path in ("", "/preview", "/runs", "/results"):
        assert (await ui.get(f"/app/strategies/{sid}{path}")).status_code == 404, path
    for path, data in (("", form), ("/pause", {}), ("/runs", {"dry_run": "1"})):
        assert (await ui.post(f"/app/strategies/{sid}{path}", data)).status_code == 404, path
    assert "Zebra plan" not in (await ui.get("/app/strategies")).text


NUM = re.compile(r'data-k="(\w+)">(\d+)<')


async def test_preview_panel_shows_the_api_preview(rs, people, tmp_path):
    t = await rs.tenant()
    await book(t, tmp_path, [row("A1", "Alpha", "082 123 4567", d30=100), row("A2", "Beta", None, d30=120),
                             row("A3", "Gamma", "084 123 4567", d60=300), row("A4", "Delta", "085 123 4567",
                                                                              current=10)])
    sms = await template(t, body="Dear [CustomerName], please pay R[TotalBalance]. " + "x" * 150)
    agent = await t.member("calling_agent")
    # Small balances get an SMS; the default strategy calls the rest.
    small = await strategy(t, [{"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 30}],
                           isDefault=False, priority=1, segment={"maxBalance": "150"})
    rest = await strategy(t, [{"action": "call_task", "minDaysPastDue": 30}])
    ui, _ = await people(t.org.id, role="manager")
    r = await ui.get(f"/app/strategies/{small}")
    assert f'hx-get="/app/strategies/{small}/preview"' in r.text
    for sid in (small, rest):
        panel = await ui.get(f"/app/strategies/{sid}/preview", headers={"HX-Request": "true"})
        assert panel.status_code == 200
        api = (await t.client.get(f"/api/v1/strategies/{sid}/preview", headers=await t.h("manager"))).json()
        rows = re.findall(r'<tr class="preview-step" data-position="(\d+)">(.*?)</tr>', panel.text, re.S)
        assert [int(p) for p, _ in rows] == [s["position"] for s in api["steps"]]
        for (_, html), step in zip(rows, api["steps"], strict=True):
            shown = {k: int(v) for k, v in NUM.findall(html)}
            assert shown == {k: step[k] for k in ("accounts", "sms", "smsSegments", "emails", "letters", "handOvers")}
            assert dict(re.findall(r'data-reason="(\w+)" data-count="(\d+)"', html)) == {
                k: str(v) for k, v in step["excluded"].items()}
            tasks = [(a or None, int(n)) for a, n in re.findall(r'data-assignee="(\d*)" data-count="(\d+)"', html)]
            assert tasks == [(str(x["assigneeId"]) if x["assigneeId"] else None, x["count"]) for x in step["tasks"]]
        totals = re.search(r'id="preview-totals" data-accounts="(\d+)" data-messages="(\d+)"', panel.text)
        assert totals and (int(totals.group(1)), int(totals.group(2))) == (api["accounts"], api["messages"])
        if sid == small:
            one = api["steps"][0]
            assert (one["accounts"], one["sms"], one["excluded"].get("no_contact")) == (2, 1, 1)
            assert one["smsSegments"] == 2  # a long message: two segments
        else:
            assert api["steps"][0]["tasks"] == [{"assigneeId": agent.user.id, "count": 1}]
            assert agent.user.username in panel.text  # the task's assignee by name

    # The preview of unsaved changes: a wider segment, previewed, then saved — the same numbers.
    async with transaction() as s:
        name = (await s.get(Strategy, small)).name
    sms_step = {"id": str((await _steps(small))[0].id), "action": "sms", "messageTemplateId": sms,
                "minDaysPastDue": "30", "waitDays": "0"}
    wider = _form(name, [sms_step], priority="1", **{"segment.maxBalance": "1000"})
    draft = await ui.htmx_post(f"/app/strategies/{small}/preview", wider)
    assert draft.status_code == 200 and "Preview of your changes (not saved)" in draft.text
    assert 'data-accounts="3"' in draft.text  # A3 (300) joins
    api = (await t.client.get(f"/api/v1/strategies/{small}/preview", headers=await t.h("manager"))).json()
    assert api["accounts"] == 2  # nothing was saved
    async with transaction() as s:
        assert str((await s.get(Strategy, small)).max_balance) == "150.00"
    bad = await ui.htmx_post(f"/app/strategies/{small}/preview", wider | {"steps[0].minDaysPastDue": "x"})
    assert bad.status_code == 200 and "steps[0].minDaysPastDue" in bad.text and "No preview yet" in bad.text
    assert (await ui.post(f"/app/strategies/{small}", wider | {"op": "save"})).status_code == 303
    api = (await t.client.get(f"/api/v1/strategies/{small}/preview", headers=await t.h("manager"))).json()
    assert api["accounts"] == 3
    reader, _ = await people(t.org.id, role="calling_agent")
    await reader.get(f"/app/strategies/{small}")
    assert (await reader.htmx_post(f"/app/strategies/{small}/preview", wider)).status_code == 403


async def test_dry_run_from_the_runs_page_and_results(rs, people, tmp_path):
    t = await rs.tenant()
    await book(t, tmp_path, [row("A1", "Alpha", "082 123 4567", d30=100), row("A2", "Beta", "083 123 4567", d30=5)])
    sms = await template(t)
    sid = await strategy(t, [{"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 30}])
    ui, user = await people(t.org.id, role="manager")
    r = await ui.post(f"/app/strategies/{sid}/runs", {"dry_run": "1"})
    assert r.status_code == 303 and "Dry run done: 2 accounts" in ui.followed.text
    page = ui.followed.text
    assert page.count('class="run" data-dry-run="yes"') == 1 and user.username in page
    async with transaction() as s:
        run = await s.scalar(select(StrategyRun).where(StrategyRun.strategy_id == sid))
        assert run.dry_run and run.accounts == 2 and run.started_by == f"user:{user.id}"
    r = await ui.get(f"/app/strategies/{sid}/results")
    api = (await t.client.get(f"/api/v1/strategies/{sid}/results", headers=await t.h("manager"))).json()
    entered = re.findall(r'data-k="entered">(\d+)<', r.text)
    assert [int(n) for n in entered] == [s["entered"] for s in api["steps"]] == [0]  # a dry run executes nothing
    assert "<svg" in r.text and "Collected within 30 days" in r.text
