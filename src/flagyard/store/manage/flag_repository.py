"""Loading and saving the flag aggregate (flag row, its variants and deployment links)."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa

from flagyard.manage.model.dependency_graph import DependencyGraph, Node, dependency_graph
from flagyard.manage.model.flags import Flag, Kind, Member, Variant
from flagyard.manage.ports import ReadForUpdate
from flagyard.store.db import inserted_id
from flagyard.store.long_lists import among, among_parameter
from flagyard.store.manage.key_repository import KEY_UNREVOKED
from flagyard.store.tables import (
    deployments,
    flag_deployments,
    flags,
    projects,
    variant_cohorts,
    variants,
    versions,
)

# Every attribute of the aggregate is a column of the flag row, but its identity and what
# lives in rows of its own (variants, deployment links) or is read from other flags (members).
_SCALARS = tuple(
    attribute.name for attribute in dataclasses.fields(Flag)
    if attribute.name not in ("id", "variants", "deployments", "members")
)
# Kinds that can be members of a group: experiments, and holdouts sitting in a mutex slot.
_MEMBER_KINDS = (Kind.EXPERIMENT.value, Kind.HOLDOUT.value)
# Above this many groups in one read, members are found by a scan of the projects' members
# rather than by one LIKE per group (SQLite limits the depth of an OR chain).
_LIKE_PREFILTER_MAX = 50


class FlagRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection
        # The variants and deployment links of each flag this unit of work read one by one
        # (as every edit does) or wrote: a save that leaves them as they were writes only the
        # flag row. A PATCH of a rollout rewrote both, five statements of its fifteen, all
        # inside the write lock.
        self._children: dict[int, _Children] = {}
        self._postgres = connection.dialect.name == "postgresql"
        # What each flag's read for update brought along for its write, by id: the `before` of
        # the version the write appends and what the approval gate asks, read with the flag
        # instead of by statements of their own.
        self._read_for_update: dict[int, ReadForUpdate] = {}

    def get(self, flag_id: int, *, for_update: bool = False, key_id: int | None = None) -> Flag | None:
        flag = self._one(flag_id, for_update=for_update, key_id=key_id)
        if flag is not None:
            self._children[flag.id] = _children(flag)
        return flag

    def read_for_update(self, flag_id: int) -> ReadForUpdate | None:
        return self._read_for_update.get(flag_id)

    def get_many(self, flag_ids: Collection[int]) -> list[Flag]:
        if not flag_ids:
            return []
        if len(flag_ids) == 1:  # what a propagation round reads after one write
            flag = self._one(next(iter(flag_ids)))
            return [flag] if flag is not None else []
        statements = _statements_among(self._postgres)
        rows = self._conn.execute(statements.flags, {"ids": list(flag_ids)}).mappings().all()
        return self._assemble(rows)

    def page(
        self,
        *,
        kind: Kind,
        project_ids: Collection[int] | None,
        key: str | None,
        include_archived: bool,
        before_id: int | None,
        limit: int,
    ) -> list[Flag]:
        """Newest first. Keyset paging on id keeps a page's cost flat at any depth."""
        query = _page_query(sa.select(flags), kind, project_ids, key, include_archived, before_id, limit)
        return self._assemble(self._conn.execute(query).mappings().all())

    def page_versions(
        self,
        *,
        kind: Kind,
        project_ids: Collection[int] | None,
        key: str | None,
        include_archived: bool,
        before_id: int | None,
        limit: int,
    ) -> list[tuple[int, int]]:
        """(id, version) of the flags `page` would return, in its order: one narrow query."""
        query = _versions_page_query(project_ids is not None, key is not None, include_archived,
                                     before_id is not None)
        values = {"kind": kind.value, "project_ids": list(project_ids or ()), "key": key,
                  "before_id": before_id, "limit": limit}
        return [(row_id, version) for row_id, version in self._conn.execute(query, values)]

    def revision(self, project_ids: Collection[int] | None) -> tuple[int, int]:
        """Moves whenever a flag of these projects (None: of any project) changes: every change
        to a flag bumps its project's revision in the same transaction (manage/changes.py).
        Revisions only grow, so the projects' count and the sum of their revisions do: one row."""
        query = _revision_query(project_ids is not None)
        count, total = self._conn.execute(query, {"project_ids": list(project_ids or ())}).one()
        return int(count), int(total)

    def revision_for_key(self, project_ids: Collection[int] | None, key_id: int) -> tuple[tuple[int, int], bool]:
        """`revision`, and whether management key `key_id` is unrevoked, in the same statement:
        a list answered to a key remembered from an earlier request costs one read."""
        query = _revision_query(project_ids is not None, with_key=True)
        count, total, live = self._conn.execute(
            query, {"project_ids": list(project_ids or ()), "key_id": key_id}).one()
        return (int(count), int(total)), bool(live)

    def find_ids_by_key(self, project_id: int, keys: Collection[str]) -> dict[str, int]:
        rows = self._conn.execute(
            sa.select(flags.c.key, flags.c.id).where(
                flags.c.project_id == project_id, among(self._conn, flags.c.key, keys)
            )
        ).all()
        return {row.key: row.id for row in rows}

    def add(self, flag: Flag) -> int:
        values = _row_values(flag)
        flag.id = inserted_id(self._conn.execute(sa.insert(flags).values(**values)))
        self._save_children(flag)
        return flag.id

    def save(self, flag: Flag) -> None:
        self._conn.execute(_SAVE_FLAG, {"b_id": flag.id, **_row_values(flag)})
        self._save_children(flag)

    def linked_to(self, deployment_id: int) -> list[Flag]:
        """Unarchived flags and experiments linked to the deployment (what it serves)."""
        query = (
            sa.select(flags)
            .join(flag_deployments, flag_deployments.c.flag_id == flags.c.id)
            .where(flag_deployments.c.deployment_id == deployment_id, flags.c.deleted.is_(False))
            .order_by(flags.c.id)
        )
        return self._assemble(self._conn.execute(query).mappings().all())

    def versions_linked_to(self, deployment_id: int) -> dict[int, int]:
        """Id -> version of every unarchived flag linked to the deployment: one narrow query,
        enough to tell which served flags changed since a snapshot was built."""
        query = (
            sa.select(flags.c.id, flags.c.version)
            .join(flag_deployments, flag_deployments.c.flag_id == flags.c.id)
            .where(flag_deployments.c.deployment_id == deployment_id, flags.c.deleted.is_(False))
        )
        return {row_id: version for row_id, version in self._conn.execute(query)}

    def versions_of(self, flag_ids: Collection[int]) -> dict[int, int]:
        """Id -> version of the given flags that exist (archived ones included)."""
        if not flag_ids:
            return {}
        query = sa.select(flags.c.id, flags.c.version).where(flags.c.id.in_(flag_ids))
        return {row_id: version for row_id, version in self._conn.execute(query)}

    def uses_deployment(self, deployment_id: int) -> bool:
        """True while an unarchived flag or experiment is linked to the deployment."""
        query = (
            sa.select(sa.literal(1))
            .select_from(flag_deployments.join(flags, flags.c.id == flag_deployments.c.flag_id))
            .where(flag_deployments.c.deployment_id == deployment_id, flags.c.deleted.is_(False))
            .limit(1)
        )
        return self._conn.execute(query).first() is not None

    def members(self, groups: Collection[Flag]) -> dict[int, list[Member]]:
        """For each group, the flags whose parentDependencies name it, by id."""
        found: dict[int, list[Member]] = {group.id: [] for group in groups}
        if not found:
            return found
        query = (
            sa.select(flags.c.id, flags.c.kind, flags.c.parent_dependencies)
            .where(flags.c.project_id.in_({group.project_id for group in groups}),
                   flags.c.kind.in_(_MEMBER_KINDS))
            .order_by(flags.c.id)
        )
        if len(found) <= _LIKE_PREFILTER_MAX:
            # Narrows the scan; the exact test on the parsed JSON follows.
            text = sa.cast(flags.c.parent_dependencies, sa.Text)
            query = query.where(sa.or_(*(text.like(f'%"{group_id}"%') for group_id in found)))
        for row in self._conn.execute(query):
            parents = (row.parent_dependencies or {}).get("flags") or {}
            for raw_id, allowed in parents.items():
                group_id = int(raw_id)
                if group_id in found:
                    found[group_id].append(Member(row.id, Kind(row.kind), tuple(allowed)))
        return found

    def cohort_targeting(self, project_id: int) -> list[Flag]:
        """The project's flags and experiments that may target a cohort: a segment naming
        `cohort_ids`, or a variant with cohort inclusions. Which cohorts, the caller reads."""
        included = sa.select(variants.c.flag_id).join(variant_cohorts, variant_cohorts.c.variant_id == variants.c.id)
        query = sa.select(flags).where(
            flags.c.project_id == project_id,
            flags.c.kind.in_((Kind.FLAG.value, Kind.EXPERIMENT.value)),
            sa.or_(sa.cast(flags.c.target_segments, sa.Text).like("%cohort_ids%"), flags.c.id.in_(included)),
        ).order_by(flags.c.id)
        return self._assemble(self._conn.execute(query).mappings().all())

    def dependency_graph(self, project_id: int) -> DependencyGraph:
        """Every flag of the project (archived ones too) as a node with its variant keys, and
        its parents: two narrow reads, no segments, payloads or inclusions."""
        keys: dict[int, list[str]] = defaultdict(list)
        for flag_id, key in self._conn.execute(
            sa.select(variants.c.flag_id, variants.c.key).join(flags, flags.c.id == variants.c.flag_id)
            .where(flags.c.project_id == project_id).order_by(variants.c.flag_id, variants.c.position)
        ):
            keys[flag_id].append(key)
        query = sa.select(flags.c.id, flags.c.kind, flags.c.key, flags.c.name, flags.c.enabled,
                          flags.c.deleted, flags.c.parent_dependencies).where(flags.c.project_id == project_id)
        return dependency_graph(
            (Node(row.id, Kind(row.kind), row.key, row.name, row.enabled, row.deleted, tuple(keys[row.id])),
             row.parent_dependencies)
            for row in self._conn.execute(query)
        )

    def add_many(self, new: Sequence[Flag]) -> None:
        """`add` for many flags (a project import): ids assigned in order, a few statements for
        any number of flags rather than several per flag."""
        if not new:
            return
        # A plain batch, then the ids by key: a batch with RETURNING is sent as one statement per
        # thousand rows, each of which psycopg parses anew (seconds for 10,000 flags).
        self._conn.execute(sa.insert(flags), [_row_values(flag) for flag in new])
        by_project: dict[int, list[Flag]] = defaultdict(list)
        for flag in new:
            by_project[flag.project_id].append(flag)
        for project_id, added in by_project.items():
            keys = [flag.key for flag in added]
            ids = {}
            for start in range(0, len(keys), _CHUNK):
                ids.update(self.find_ids_by_key(project_id, keys[start:start + _CHUNK]))
            for flag in added:
                flag.id = ids[flag.key]
        self._save_children_many(new, stored=False)

    def save_many(self, changed: Sequence[Flag]) -> None:
        """`save` for many flags: the same rows written, by batched statements."""
        if not changed:
            return
        update = sa.update(flags).where(flags.c.id == sa.bindparam("b_id"))
        self._conn.execute(update, [{"b_id": flag.id, **_row_values(flag)} for flag in changed])
        self._save_children_many(changed, stored=True)

    # --- internals ------------------------------------------------------------------------

    def _one(self, flag_id: int, *, for_update: bool = False, key_id: int | None = None) -> Flag | None:
        """One flag by the statements built for it (`_assemble` builds its own for a list)."""
        values = {"flag_id": flag_id}
        if for_update:
            row = self._conn.execute(_FLAG_FOR_UPDATE, {**values, "key_id": key_id}).mappings().first()
        else:
            row = self._conn.execute(_FLAG, values).mappings().first()
        if row is None:
            return None
        found_variants = [_variant(v) for v in self._conn.execute(_VARIANTS_OF_FLAG, values).mappings()]
        if for_update:
            links = self._conn.execute(_PROTECTED_LINKS_OF_FLAG, values).all()
            self._read_for_update[flag_id] = ReadForUpdate(
                version=row["version"], version_config=row["version_config"],
                approval_labels={link: label if protected else None for link, label, protected in links},
                key_id=key_id, key_unrevoked=bool(row["key_unrevoked"]))
            flag = _flag_from_row(row, found_variants, [link for link, _, _ in links])
        else:
            flag = _flag_from_row(row, found_variants, [link for (link,) in self._conn.execute(_LINKS_OF_FLAG, values)])
        if flag.kind.is_group:
            flag.members = self.members([flag])[flag.id]
        return flag

    def _save_children(self, flag: Flag) -> None:
        children = _children(flag)
        if self._children.get(flag.id) == children:
            return
        self._write_children(flag)
        self._children[flag.id] = _children(flag)  # new variants have their ids now

    def _write_children(self, flag: Flag) -> None:
        stored = {
            row.id
            for row in self._conn.execute(
                sa.select(variants.c.id).where(variants.c.flag_id == flag.id)
            )
        }
        kept = {v.id for v in flag.variants if v.id}
        gone = stored - kept
        if gone:
            self._conn.execute(sa.delete(variants).where(variants.c.id.in_(gone)))
        for position, variant in enumerate(flag.variants):
            values = {
                "flag_id": flag.id,
                "position": position,
                "key": variant.key,
                "name": variant.name,
                "description": variant.description,
                "payload": variant.payload,
                "rollout_weight": variant.rollout_weight,
            }
            if variant.id:
                self._conn.execute(sa.update(variants).where(variants.c.id == variant.id).values(**values))
            else:
                variant.id = inserted_id(self._conn.execute(sa.insert(variants).values(**values)))
        self._conn.execute(sa.delete(flag_deployments).where(flag_deployments.c.flag_id == flag.id))
        if flag.deployments:
            self._conn.execute(
                sa.insert(flag_deployments),
                [
                    {"flag_id": flag.id, "deployment_id": d, "position": i}
                    for i, d in enumerate(flag.deployments)
                ],
            )

    def _save_children_many(self, saved: Sequence[Flag], *, stored: bool) -> None:
        """`_save_children` of every flag at once; `stored`: they may already have children."""
        ids = [flag.id for flag in saved]
        if stored:
            kept = {v.id for flag in saved for v in flag.variants if v.id}
            gone = [row_id for chunk in _chunks(ids) for (row_id,) in self._conn.execute(
                sa.select(variants.c.id).where(among(self._conn, variants.c.flag_id, chunk))) if row_id not in kept]
            for chunk in _chunks(gone):
                self._conn.execute(sa.delete(variants).where(among(self._conn, variants.c.id, chunk)))
        updated: list[dict[str, Any]] = []
        added: list[tuple[Variant, dict[str, Any]]] = []
        for flag in saved:
            for position, variant in enumerate(flag.variants):
                values = _variant_values(flag.id, position, variant)
                if variant.id:
                    updated.append({"b_id": variant.id, **values})
                else:
                    added.append((variant, values))
        if updated:
            self._conn.execute(sa.update(variants).where(variants.c.id == sa.bindparam("b_id")), updated)
        if added:  # a plain batch, then the new ids by (flag, key), as for flags
            self._conn.execute(sa.insert(variants), [values for _, values in added])
            flag_ids = sorted({values["flag_id"] for _, values in added})
            new_ids = {(flag_id, key): row_id for chunk in _chunks(flag_ids) for row_id, flag_id, key in
                       self._conn.execute(sa.select(variants.c.id, variants.c.flag_id, variants.c.key)
                                          .where(among(self._conn, variants.c.flag_id, chunk)))}
            for variant, values in added:
                variant.id = new_ids[(values["flag_id"], variant.key)]
        if stored:
            for chunk in _chunks(ids):
                self._conn.execute(sa.delete(flag_deployments).where(
                    among(self._conn, flag_deployments.c.flag_id, chunk)))
        links = [{"flag_id": flag.id, "deployment_id": d, "position": i}
                 for flag in saved for i, d in enumerate(flag.deployments)]
        if links:
            self._conn.execute(sa.insert(flag_deployments), links)
        for flag in saved:
            self._children[flag.id] = _children(flag)

    def _assemble(self, rows: Sequence[sa.RowMapping]) -> list[Flag]:
        ids = [row["id"] for row in rows]
        by_flag: dict[int, list[Variant]] = defaultdict(list)
        links: dict[int, list[int]] = defaultdict(list)
        if ids:
            statements = _statements_among(self._postgres)
            for v in self._conn.execute(statements.variants, {"ids": ids}).mappings():
                by_flag[v["flag_id"]].append(_variant(v))
            for flag_id, deployment_id in self._conn.execute(statements.links, {"ids": ids}):
                links[flag_id].append(deployment_id)
        assembled = [_flag_from_row(row, by_flag[row["id"]], links[row["id"]]) for row in rows]
        groups = [flag for flag in assembled if flag.kind.is_group]
        if groups:
            members = self.members(groups)
            for group in groups:
                group.members = members[group.id]
        return assembled


# The statements of one flag's read and save, built once: an edit makes them on every write,
# and building and keying each anew was a fifth of the write's own CPU (profiled).
_FLAG = sa.select(flags).where(flags.c.id == sa.bindparam("flag_id"))
# A flag read to be changed comes with its current version's document, the next version's
# `before`, whether the writing key is unrevoked, and its links with whether each deployment
# requires approval (`read_for_update`); only the flag's row is locked.
_FLAG_FOR_UPDATE = (
    sa.select(flags, versions.c.flag_config.label("version_config"), KEY_UNREVOKED.label("key_unrevoked"))
    .outerjoin(versions, sa.and_(versions.c.flag_id == flags.c.id, versions.c.version == flags.c.version))
    .where(flags.c.id == sa.bindparam("flag_id"))
    .with_for_update(of=flags))
_VARIANTS_OF_FLAG = (sa.select(variants).where(variants.c.flag_id == sa.bindparam("flag_id"))
                     .order_by(variants.c.position))
_LINKS_OF_FLAG = (sa.select(flag_deployments.c.deployment_id)
                  .where(flag_deployments.c.flag_id == sa.bindparam("flag_id"))
                  .order_by(flag_deployments.c.position))
_PROTECTED_LINKS_OF_FLAG = (
    sa.select(flag_deployments.c.deployment_id, deployments.c.label, deployments.c.require_approval)
    .outerjoin(deployments, deployments.c.id == flag_deployments.c.deployment_id)
    .where(flag_deployments.c.flag_id == sa.bindparam("flag_id"))
    .order_by(flag_deployments.c.position))
_SAVE_FLAG = sa.update(flags).where(flags.c.id == sa.bindparam("b_id"))


@dataclasses.dataclass(frozen=True)
class _AmongStatements:
    flags: sa.Select[Any]
    variants: sa.Select[Any]
    links: sa.Select[Any]


@functools.cache
def _statements_among(postgres: bool) -> _AmongStatements:
    """The reads of many flags (parameter `ids`), built once: every propagation round reads the
    flags written since the last, and building these anew was a quarter of that read (py-spy)."""
    return _AmongStatements(
        flags=sa.select(flags).where(among_parameter(flags.c.id, "ids", postgres)),
        variants=(sa.select(variants).where(among_parameter(variants.c.flag_id, "ids", postgres))
                  .order_by(variants.c.position)),
        links=(sa.select(flag_deployments.c.flag_id, flag_deployments.c.deployment_id)
               .where(among_parameter(flag_deployments.c.flag_id, "ids", postgres))
               .order_by(flag_deployments.c.position)),
    )


def _page_query(
    query: sa.Select[Any],
    kind: Kind | sa.BindParameter[Any],
    project_ids: Collection[int] | sa.BindParameter[Any] | None,
    key: str | sa.BindParameter[Any] | None,
    include_archived: bool,
    before_id: int | sa.BindParameter[Any] | None,
    limit: int | sa.BindParameter[Any],
) -> sa.Select[Any]:
    query = query.where(flags.c.kind == (kind.value if isinstance(kind, Kind) else kind))
    if project_ids is not None:
        query = query.where(flags.c.project_id.in_(project_ids))
    if key is not None:
        query = query.where(flags.c.key == key)
    if not include_archived:
        query = query.where(flags.c.deleted.is_(False))
    if before_id is not None:
        query = query.where(flags.c.id < before_id)
    return query.order_by(flags.c.id.desc()).limit(limit)


@functools.cache
def _versions_page_query(by_project: bool, by_key: bool, include_archived: bool,
                         before: bool) -> sa.Select[Any]:
    """Built once per shape, with bound parameters: the list asks on every request, and
    building and keying the statement each time showed in its profile."""
    return _page_query(
        sa.select(flags.c.id, flags.c.version), sa.bindparam("kind"),
        sa.bindparam("project_ids", expanding=True) if by_project else None,
        sa.bindparam("key") if by_key else None, include_archived,
        sa.bindparam("before_id") if before else None, sa.bindparam("limit"))


def _variant_values(flag_id: int, position: int, variant: Variant) -> dict[str, Any]:
    return {"flag_id": flag_id, "position": position, "key": variant.key, "name": variant.name,
            "description": variant.description, "payload": variant.payload,
            "rollout_weight": variant.rollout_weight}


# Ids per IN list in batched statements: well under SQLite's limit on bound parameters.
_CHUNK = 10_000


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[start:start + _CHUNK] for start in range(0, len(ids), _CHUNK)]


@functools.cache
def _revision_query(by_project: bool, with_key: bool = False) -> sa.Select[Any]:
    columns: list[Any] = [sa.func.count(), sa.func.coalesce(sa.func.sum(projects.c.revision), 0)]
    if with_key:
        columns.append(KEY_UNREVOKED)
    query = sa.select(*columns)
    if by_project:
        query = query.where(projects.c.id.in_(sa.bindparam("project_ids", expanding=True)))
    return query


def _row_values(flag: Flag) -> dict[str, Any]:
    values = {name: getattr(flag, name) for name in _SCALARS}
    values["kind"] = flag.kind.value
    values["served_to_everyone"] = flag.served_to_everyone
    return values


_Children = tuple[tuple[tuple[Any, ...], ...], tuple[int, ...]]


def _children(flag: Flag) -> _Children:
    """What `_save_children` writes, comparable: payloads as JSON text, so a payload changed in
    place, or from 1 to true (equal in Python), still counts as a change."""
    return (tuple((v.id, v.key, v.name, v.description, json.dumps(v.payload), v.rollout_weight)
                  for v in flag.variants), tuple(flag.deployments))


def _variant(row: sa.RowMapping) -> Variant:
    return Variant(id=row["id"], key=row["key"], name=row["name"], description=row["description"],
                   payload=row["payload"], rollout_weight=row["rollout_weight"])


def _flag_from_row(row: sa.RowMapping, flag_variants: list[Variant], deployment_ids: list[int]) -> Flag:
    fields = {name: row[name] for name in _SCALARS}
    fields["kind"] = Kind(row["kind"])
    return Flag(id=row["id"], variants=flag_variants, deployments=deployment_ids, **fields)
