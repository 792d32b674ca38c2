"""``vasguard keys``: the API keys of care desks, operator staff, partners and gateways."""

from __future__ import annotations

from typing import Annotated

import typer

from vasguard.cli.console import JsonOption, cli_cause, emit, out, runtime, sub_app
from vasguard.domain.access import ApiKey, Role

app = sub_app("Create, list and revoke API keys.")


def _line(key: ApiKey) -> str:
    scope = " ".join(
        part
        for part in (
            f"provider={key.provider_code}" if key.provider_code else "",
            f"province={key.province}" if key.province else "",
            f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
        )
        if part
    )
    return f"{key.name:<24} {key.role.value:<9} vg_{key.key_id}_…  {scope}".rstrip()


@app.command("create")
def create(
    role: Annotated[Role, typer.Option(help="what the key may do")],
    name: Annotated[str, typer.Option(help="the key's unique name, recorded in events")],
    provider: Annotated[
        str | None, typer.Option(help="the provider code a partner key is bound to")
    ] = None,
    province: Annotated[
        str | None, typer.Option(help="limit the key to one province's subscribers (e.g. SH)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a key and print it once: only its hash is kept, so it cannot be shown again."""
    from vasguard.services.keys import create_key

    rt = runtime()
    token, key = create_key(
        rt.uow(),
        rt.clock(),
        role=role,
        name=name,
        provider_code=provider,
        province=province,
        created_by=cli_cause().ref,
    )

    def human() -> None:
        out.print(_line(key))
        out.print(f"key (shown once, keep it now): {token}", soft_wrap=True)

    emit(as_json, {"name": key.name, "role": key.role, "key": token}, human)


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """Every key: name, role, scope, and whether it is revoked (never the secret)."""
    from vasguard.services.keys import list_keys

    keys = list_keys(runtime().uow())

    def human() -> None:
        for key in keys:
            out.print(_line(key))

    emit(as_json, keys, human)


@app.command("revoke")
def revoke(
    name: Annotated[str, typer.Option(help="the key's name")], as_json: JsonOption = False
) -> None:
    """Revoke a key: every request with it is refused from now on, in every process."""
    from vasguard.services.keys import revoke_key

    rt = runtime()
    key = revoke_key(rt.uow(), rt.clock(), name=name)
    emit(as_json, key, lambda: out.print(_line(key)))
