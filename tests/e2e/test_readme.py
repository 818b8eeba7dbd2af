"""The README's quick start as a new developer meets it: the care walk-throughs' shell helpers work on their
own (no earlier section needed), and `make run` takes the ports it is given."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def _first_bash_block_after(heading: str) -> str:
    section = README[README.index(heading) :]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, f"no bash block after {heading!r}"
    return match.group(1)


def test_the_care_helpers_stand_alone_and_link_gives_up_with_a_message(stack_url: str) -> None:
    helpers = _first_bash_block_after("## The care stories with curl")
    assert "API=http://127.0.0.1:3000" in helpers  # the block sets everything it uses
    script = helpers.replace("API=http://127.0.0.1:3000", f"API={stack_url}").replace(
        "$(seq 100)", "$(seq 3)"
    )
    script += (
        '[ -n "$CAROL" ] && [ -n "$ADMIN" ] || exit 7\n'
        'j -H "authorization: Bearer $CAROL" $API/case-types/service_request\n'
        "mails nobody@casework.example\n"
        'link nobody@casework.example nothing approvals; echo "link exit $?"\n'
    )
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert '"type": "service_request"' in run.stdout or '"type":"service_request"' in run.stdout
    assert "link exit 1" in run.stdout
    assert "no email to nobody@casework.example about nothing with a /approvals/ link" in run.stderr


def test_make_run_takes_the_ports_it_is_given() -> None:
    run = subprocess.run(
        ["make", "-n", "run", "PORT=3999", "MOTO_PORT=5999"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "-m infra.local --port 3999 --moto-port 5999" in run.stdout


def test_the_directory_walk_through_runs_as_written(stack_url: str) -> None:
    helpers = _first_bash_block_after("## The care stories with curl")
    script = helpers.replace("API=http://127.0.0.1:3000", f"API={stack_url}") + _first_bash_block_after(
        "### The directory"
    )
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    out = run.stdout.replace(" ", "")
    assert '"username":"erin"' in out and '"version":1' in out
    assert out.count('"code":"INVALID_DIRECTORY_ENTRY"') == 2
    assert '"location":"approval_rules.refund.role"' in out
    assert '"code":"USER_HAS_WORK"' in out and '"location":"responsibles.assessment"' in out
    audit = out.rsplit('"items":', 1)[1]  # the last command: erin's audit trail
    assert '"key":"erin"' in audit and '"by":"admin"' in audit and '"before":null' in audit


def test_the_workflow_rules_walk_through_runs_as_written(stack_url: str) -> None:
    helpers = _first_bash_block_after("## The care stories with curl")
    script = helpers.replace("API=http://127.0.0.1:3000", f"API={stack_url}") + _first_bash_block_after(
        "### Workflow rules and communication plans (Admin)"
    )
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out = run.stdout.replace(" ", "")
    assert '"code":"INVALID_RULES"' in out and '"code":"NOT_ALLOWED"' in out
    assert '"added_by":"rule:faulty-visit"' in out and '"title":"VisitAliceBrown:Routerkeepsrebooting"' in out
    assert "2rule:faulty-visitchild_scheduled" in out
    assert "Visitplannedfor" in out and '"author":"rule:faulty-visit"' in out
    assert '"reason":"ALREADY_SENT"' in out and '"by":"plan:remind-acceptance"' in out
