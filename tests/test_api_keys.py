"""``ID`` arguments are read as the loaders read a key (``api.schema.common.KeyArguments``): every field that
takes one carries the extension (a field added without it is caught here). That a pasted id names its node:
``tests/test_api_queries.py`` and ``tests/test_api_notes.py``."""

from __future__ import annotations

from graphql import GraphQLObjectType, get_named_type

from api.schema.build import build_schema
from api.schema.common import KeyArguments


def test_every_field_with_an_id_argument_reads_it_as_a_key() -> None:
    schema = build_schema()
    with_ids, missing = [], []
    for type_name, graphql_type in schema._schema.type_map.items():
        if type_name.startswith("__") or not isinstance(graphql_type, GraphQLObjectType):
            continue
        definition = schema.get_type_by_name(type_name)
        fields = {f.graphql_name or schema.config.name_converter.get_graphql_name(f): f
                  for f in getattr(definition, "fields", [])}
        for field_name, field in graphql_type.fields.items():
            if any(get_named_type(argument.type).name == "ID" for argument in field.args.values()):
                with_ids.append(f"{type_name}.{field_name}")
                if not any(isinstance(e, KeyArguments) for e in fields[field_name].extensions):
                    missing.append(f"{type_name}.{field_name}")
    assert "Query.customer" in with_ids and "Mutation.addNote" in with_ids
    assert missing == []
