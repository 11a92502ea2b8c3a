"""Snowflake adapter without a warehouse: connect arguments per auth, error classification, SQL text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
from snowflake.connector import errors as sf

from monday_snowflake.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidDataError,
    NotFoundError,
    PermanentError,
    PermissionDeniedError,
    RateLimitedError,
    TransientError,
)
from monday_snowflake.model.warehouse import TableRef, WarehouseColumn
from monday_snowflake.settings import SnowflakeSettings
from monday_snowflake.snowflake import loader
from monday_snowflake.snowflake import sql as sql_build
from monday_snowflake.snowflake.classify import classify_error
from monday_snowflake.snowflake.connection import build_connect_kwargs

C = WarehouseColumn
HOSTILE = 'x"; DROP TABLE t; --'


def real(**overrides: Any) -> SnowflakeSettings:
    base: dict[str, Any] = {"mode": "snowflake", "account": "myorg-acct", "user": "LOADER", "warehouse": "WH"}
    return SnowflakeSettings(**(base | overrides))


# --- connect arguments ---------------------------------------------------------------------------------


def test_programmatic_access_token_prefers_the_stored_credential_and_hides_it() -> None:
    params = build_connect_kwargs(
        real(authenticator="programmatic_access_token", token=SecretStr("settings-pat")),
        {"token": "stored-pat"},
    )
    assert params["authenticator"] == "PROGRAMMATIC_ACCESS_TOKEN"
    assert params["token"] == "stored-pat"
    assert (params["account"], params["user"], params["warehouse"]) == ("myorg-acct", "LOADER", "WH")
    assert params["paramstyle"] == "qmark"
    assert "stored-pat" not in repr(params) and "stored-pat" not in str(params)
    assert "***" in repr(params)


def test_token_falls_back_to_settings() -> None:
    params = build_connect_kwargs(real(authenticator="oauth", token=SecretStr("oauth-access")), None)
    assert (params["authenticator"], params["token"]) == ("oauth", "oauth-access")
    assert "oauth-access" not in repr(params)


def test_password_auth() -> None:
    params = build_connect_kwargs(real(authenticator="password"), {"password": "hunter2"})
    assert params["password"] == "hunter2"
    assert "authenticator" not in params
    assert "hunter2" not in repr(params)


@pytest.mark.parametrize("auth", ["password", "programmatic_access_token", "oauth"])
def test_missing_secret_is_a_configuration_error(auth: str) -> None:
    with pytest.raises(ConfigurationError):
        build_connect_kwargs(real(authenticator=auth), {})


def test_account_and_user_are_required_for_real_snowflake() -> None:
    with pytest.raises(ConfigurationError, match="account"):
        build_connect_kwargs(real(account=None), {"token": "t"})
    with pytest.raises(ConfigurationError, match="user"):
        build_connect_kwargs(real(user=None), {"token": "t"})


@pytest.fixture
def encrypted_key(tmp_path: Path) -> tuple[Path, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret phrase"),
    )
    path = tmp_path / "rsa key.p8"
    path.write_bytes(pem)
    return path, key


def test_key_pair_loads_an_encrypted_pem_file_with_the_passphrase(
    encrypted_key: tuple[Path, rsa.RSAPrivateKey],
) -> None:
    path, key = encrypted_key
    params = build_connect_kwargs(
        real(authenticator="key_pair", private_key_path=path), {"private_key_passphrase": "s3cret phrase"}
    )
    assert params["authenticator"] == "SNOWFLAKE_JWT"
    loaded = params["private_key"]
    assert isinstance(loaded, rsa.RSAPrivateKey)
    assert loaded.private_numbers() == key.private_numbers()
    assert "s3cret" not in repr(params) and "PRIVATE" not in repr(params)


def test_key_pair_from_stored_pem_text_and_settings_passphrase(
    encrypted_key: tuple[Path, rsa.RSAPrivateKey],
) -> None:
    path, key = encrypted_key
    settings = real(authenticator="key_pair", private_key_passphrase=SecretStr("s3cret phrase"))
    params = build_connect_kwargs(settings, {"private_key": path.read_text()})
    assert params["private_key"].private_numbers() == key.private_numbers()


def test_key_pair_with_a_wrong_passphrase_or_no_key_is_a_configuration_error(
    encrypted_key: tuple[Path, rsa.RSAPrivateKey],
) -> None:
    path, _ = encrypted_key
    with pytest.raises(ConfigurationError) as wrong:
        build_connect_kwargs(
            real(authenticator="key_pair", private_key_path=path), {"private_key_passphrase": "no"}
        )
    assert "no" not in wrong.value.details.values()
    with pytest.raises(ConfigurationError):
        build_connect_kwargs(real(authenticator="key_pair"), {})
    with pytest.raises(ConfigurationError):
        build_connect_kwargs(
            real(authenticator="key_pair", private_key_path=path.with_name("missing.p8")), {}
        )


def test_embedded_mode_targets_the_local_server_over_http() -> None:
    params = build_connect_kwargs(
        SnowflakeSettings.model_validate({}), None, embedded_address=("127.0.0.1", 4321)
    )
    assert (params["host"], params["port"], params["protocol"], params["account"]) == (
        "127.0.0.1",
        4321,
        "http",
        "fakesnow",
    )
    assert (params["database"], params["schema"]) == ("MONDAY", "PUBLIC")
    assert params["network_timeout"] > 0
    with pytest.raises(ConfigurationError):
        build_connect_kwargs(SnowflakeSettings.model_validate({}), None)


# --- error classification ------------------------------------------------------------------------------


def prog(errno: int, msg: str, sqlstate: str | None = None) -> sf.ProgrammingError:
    return sf.ProgrammingError(msg=msg, errno=errno, sqlstate=sqlstate, send_telemetry=False)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            sf.DatabaseError(
                msg="Incorrect username or password was specified.",
                errno=390100,
                sqlstate="08004",
                send_telemetry=False,
            ),
            AuthenticationError,
        ),
        (
            sf.DatabaseError(
                msg="JWT token is invalid.", errno=390144, sqlstate="08004", send_telemetry=False
            ),
            AuthenticationError,
        ),
        (
            sf.DatabaseError(
                msg="OAuth access token expired.", errno=390318, sqlstate="08004", send_telemetry=False
            ),
            AuthenticationError,
        ),
        (
            sf.DatabaseError(
                msg="Invalid OAuth access token.", errno=390303, sqlstate="08004", send_telemetry=False
            ),
            AuthenticationError,
        ),
        (
            sf.DatabaseError(msg="Programmatic access token is expired", send_telemetry=False),
            AuthenticationError,
        ),
        (
            prog(3001, "SQL access control error: Insufficient privileges to operate on table 'T'", "42501"),
            PermissionDeniedError,
        ),
        (
            prog(2003, "SQL compilation error: Object 'X' does not exist or not authorized.", "02000"),
            NotFoundError,
        ),
        (prog(606, "No active warehouse selected in the current session.", "57P03"), ConfigurationError),
        (
            prog(630, "Statement reached its statement or warehouse timeout of 10 second(s)", "57014"),
            TransientError,
        ),
        (
            sf.OperationalError(
                msg="Could not connect to Snowflake backend after 2 attempt(s).",
                errno=250001,
                send_telemetry=False,
            ),
            TransientError,
        ),
        (
            prog(
                1003, "SQL compilation error: syntax error line 1 at position 0 unexpected 'SELEC'.", "42000"
            ),
            PermanentError,
        ),
        (prog(100038, "Numeric value 'abc' is not recognized", "22018"), InvalidDataError),
        (sf.TooManyRequests(msg="429", send_telemetry=False), RateLimitedError),
        (sf.ServiceUnavailableError(msg="503", send_telemetry=False), TransientError),
        (ConnectionError("connection reset by peer"), TransientError),
        (RuntimeError("something nobody expected"), TransientError),
    ],
)
def test_connector_errors_map_onto_the_error_tree(error: Exception, expected: type[Exception]) -> None:
    classified = classify_error(error)
    assert type(classified) is expected
    assert classified.message.startswith("Snowflake:")


def test_classification_keeps_codes_as_data() -> None:
    classified = classify_error(prog(2003, "Object does not exist or not authorized.", "42S02"))
    assert classified.details == {"errno": 2003, "sqlstate": "42S02"}


# --- SQL text ------------------------------------------------------------------------------------------

TABLE = TableRef("MONDAY", "PUBLIC", HOSTILE)
COLUMNS = [
    C("ITEM_ID", "NUMBER(38,0)"),
    C(HOSTILE, "VARCHAR"),
    C("People", "VARIANT"),
    C("Amount", "NUMBER(38,2)"),
]


def test_identifiers_are_quoted_with_embedded_quotes_doubled() -> None:
    assert sql_build.table_ref(TABLE) == '"MONDAY"."PUBLIC"."x""; DROP TABLE t; --"'
    ddl = sql_build.create_table(TABLE, COLUMNS)
    assert ddl == (
        'CREATE TABLE IF NOT EXISTS "MONDAY"."PUBLIC"."x""; DROP TABLE t; --" ("ITEM_ID" NUMBER(38,0), '
        '"x""; DROP TABLE t; --" VARCHAR, "People" VARIANT, "Amount" NUMBER(38,2))'
    )
    assert sql_build.add_column(TABLE, C("new", "DATE")).endswith('ADD COLUMN IF NOT EXISTS "new" DATE')


@pytest.mark.parametrize("sql_type", ["VARCHAR); DROP TABLE t; --", "NUMBER(38,2) NOT NULL", "", "VAR CHAR"])
def test_column_types_outside_the_plain_shape_are_refused(sql_type: str) -> None:
    with pytest.raises(ConfigurationError):
        sql_build.create_table(TABLE, [C("A", sql_type)])


@pytest.mark.parametrize(
    "sql_type", ["VARCHAR", "NUMBER(38,6)", "NUMBER(38, 0)", "TIMESTAMP_NTZ", "varchar(100)"]
)
def test_plain_column_types_are_accepted(sql_type: str) -> None:
    assert sql_build.check_sql_type(sql_type) == sql_type


def test_dedup_keeps_the_last_row_per_key_and_casts_to_target_types() -> None:
    sql = sql_build.create_dedup('"D"', '"S"', COLUMNS, "ITEM_ID")
    assert 'PARSE_JSON("People") AS "People"' in sql
    assert 'CAST("Amount" AS NUMBER(38,2)) AS "Amount"' in sql
    assert '"x""; DROP TABLE t; --",' in sql  # text needs no cast
    assert 'PARTITION BY "ITEM_ID" ORDER BY CAST("_MS_ROW_SEQ" AS NUMBER(38,0)) DESC) = 1' in sql
    assert "\"_MS_ROW_SEQ\" <> '_MS_TYPE_GUARD'" in sql
    assert '"ITEM_ID" IS NOT NULL' in sql


def test_merge_updates_and_inserts_only_the_loaded_columns() -> None:
    sql = sql_build.merge(TABLE, '"D"', COLUMNS, "ITEM_ID")
    assert sql.startswith('MERGE INTO "MONDAY"."PUBLIC"."x""; DROP TABLE t; --" AS t USING "D" AS s ')
    assert 'ON t."ITEM_ID" = s."ITEM_ID"' in sql
    assert 'UPDATE SET "x""; DROP TABLE t; --" = s."x""; DROP TABLE t; --", "People" = s."People"' in sql
    assert '"ITEM_ID" = s."ITEM_ID",' not in sql.split("UPDATE SET")[1]
    assert sql.endswith(
        'INSERT ("ITEM_ID", "x""; DROP TABLE t; --", "People", "Amount") '
        'VALUES (s."ITEM_ID", s."x""; DROP TABLE t; --", s."People", s."Amount")'
    )
    only_key = sql_build.merge(TABLE, '"D"', COLUMNS[:1], "ITEM_ID")
    assert "WHEN MATCHED" not in only_key


def test_delete_missing_uses_not_exists_so_null_keys_cannot_empty_the_table() -> None:
    sql = sql_build.delete_unstaged(TABLE, '"D"', "ITEM_ID")
    assert 'NOT EXISTS (SELECT 1 FROM "D" AS s WHERE s."ITEM_ID" = t."ITEM_ID")' in sql
    assert "NOT IN" not in sql


def test_put_and_copy_name_each_file_and_keep_spaces_in_paths(tmp_path: Path) -> None:
    path = tmp_path / "dir with space" / "part-00001.csv"
    stage = sql_build.stage_ref(TABLE, loader.STAGE_NAME)
    put = sql_build.put(path, stage, "run1/abc")
    assert put == (
        f'PUT \'file://{path.as_posix()}\' @"MONDAY"."PUBLIC"."MONDAY_SNOWFLAKE_STAGE"/run1/abc/ '
        "AUTO_COMPRESS = FALSE OVERWRITE = TRUE"
    )
    copy = sql_build.copy_into('"S"', stage, "run1/abc/part-00001.csv")
    assert 'FROM \'@"MONDAY"."PUBLIC"."MONDAY_SNOWFLAKE_STAGE"/run1/abc/part-00001.csv\'' in copy
    assert "NULL_IF = ('\\\\N') EMPTY_FIELD_AS_NULL = FALSE" in copy
    assert "FILES" not in copy


def test_key_must_be_a_column_and_names_unique() -> None:
    with pytest.raises(ConfigurationError):
        sql_build.require_key(COLUMNS, "missing")
    with pytest.raises(ConfigurationError):
        sql_build.require_key([C("A", "VARCHAR"), C("A", "VARCHAR")], "A")
