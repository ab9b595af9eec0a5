"""``flask caseflow draw verify <id>``: replay a draw from its published seed and population."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from caseflow.extensions import db

draw_cli = AppGroup("draw", help="Verifiable random draws.")


@draw_cli.command("verify")
@click.argument("draw_id", type=int)
def verify_cmd(draw_id: int):
    """Replay a draw and confirm it matches its commitment and recorded result."""
    from caseflow.inspections.models import Draw
    from caseflow.inspections.operations import VERIFY_PROBLEMS, verify_draw

    d = db.session.get(Draw, draw_id)
    if d is None:
        click.echo(f"error: no draw {draw_id}", err=True)
        sys.exit(2)
    problems = verify_draw(d)
    click.echo(f"draw {d.id}: population {d.population_size}, population sha256 {d.population_hash}")
    click.echo(f"seed sha256 {d.seed_hash}; seed {d.seed or '(not revealed)'}")
    if problems:
        for p in problems:
            click.echo(f"FAILED: {VERIFY_PROBLEMS[p]}", err=True)
        sys.exit(1)
    click.echo(f"OK: replayed {len(d.result['targets'])} targets, identical to the recorded result")
