"""The OpenAPI 3.0.3 document of `/api/v1`, kept as data: `SCHEMAS` (components) and `PATHS`, one entry per
route. A new endpoint adds its schemas and its path item here; `tests/test_api_events.py` fails when a
route of the app is missing from `PATHS`, or a documented route does not exist."""

from __future__ import annotations

import copy
from typing import Any

from credit.catalog import EVENT_TYPES, SEVERITY_LABELS
from credit.models.event import EventStatus
from credit.rules.ruleset import PURPOSE_LABELS, PURPOSES
from credit.services.event_input import EVENT_FIELDS, LIMITS

OPENAPI_VERSION = "3.0.3"
SECURITY_SCHEME = "bearerKey"

INFO = {
    "title": "质量信用红黑榜 API",
    "version": "1.0.0",
    "description": (
        "供其他部门报送信用事件并查询审核结果。Quality-credit red/black list API for other departments.\n\n"
        "认证:`Authorization: Bearer <前缀>.<密钥>`,密钥由管理员以 `flask credit api-key create` 签发。"
        '每个操作所需的权限范围见 `x-scopes`。错误一律为 JSON `{"error": 代码, "message": 说明}`。'
    ),
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _text(description: str, *, max_length: int | None = None, **more: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "nullable": True, "description": description, **more}
    if max_length:
        schema["maxLength"] = max_length
    return schema


SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {
                "type": "string",
                "description": "机器可读的错误代码,如 unauthorized、not_found",
                "example": "unauthorized",
            },
            "message": {"type": "string", "description": "给人看的说明(中文)"},
        },
    },
    "FieldError": {
        "type": "object",
        "required": ["field", "message"],
        "properties": {
            "field": {"type": "string", "description": "出错的字段;空字符串表示整条记录"},
            "message": {"type": "string"},
        },
    },
    "ValidationError": {
        "type": "object",
        "required": ["error", "message", "details"],
        "properties": {
            "error": {"type": "string", "enum": ["validation_failed"]},
            "message": {"type": "string", "description": "所有问题的汇总"},
            "details": {"type": "array", "items": ref("FieldError"), "description": "每个问题一项"},
        },
    },
    "EventInput": {
        "type": "object",
        "description": (
            "一条信用事件,与录入表单和导入文件的校验规则相同。字段值为字符串(amount 可为数字);"
            "可选字段可省略或为 null;未列出的字段会被拒绝。"
        ),
        "required": ["uscc", "event_type", "occurred_on", "document_no", "authority"],
        "additionalProperties": False,
        "properties": {
            "uscc": _text("企业统一社会信用代码(18位,GB 32100-2015),须已在本局登记"),
            "event_type": _text("事件类型代码", enum=[*EVENT_TYPES, None]),
            "occurred_on": _text("发生日期 YYYY-MM-DD,不晚于今天(北京时间)", format="date"),
            "document_no": _text("文书号;与企业、事件类型一起唯一", max_length=LIMITS["document_no"]),
            "authority": _text("作出机关", max_length=LIMITS["authority"]),
            "severity": _text(
                "严重程度:spot_check_fail 须为 general 或 serious,penalty 须为 general 或 heavy,其他类型留空",
                enum=[*SEVERITY_LABELS, None],
            ),
            "amount": {
                "anyOf": [{"type": "string"}, {"type": "number"}],
                "nullable": True,
                "description": "金额(元),非负,最多两位小数",
                "example": "50000.00",
            },
            "product": _text("产品名称", max_length=LIMITS["product"]),
            "valid_until": _text(
                "有效期至 YYYY-MM-DD:famous_brand 与 certification 必填且晚于发生日期,其他类型留空", format="date"
            ),
            "description": _text("说明", max_length=LIMITS["description"]),
            "person_name": _text("首席质量官姓名(cqo_appointed、cqo_left 必填)", max_length=LIMITS["person_name"]),
            "certificate_no": _text(
                "首席质量官培训证书编号(cqo_appointed、cqo_left 必填)", max_length=LIMITS["certificate_no"]
            ),
            "rectifies_document_no": _text(
                "仅 rectified:所整改的监督抽查不合格记录的文书号;省略时关联该企业最近一条未关闭的不合格记录"
            ),
        },
        "example": {
            "uscc": "91440605MA4UJ7XQ7Q",
            "event_type": "spot_check_fail",
            "occurred_on": "2026-03-02",
            "document_no": "佛南市监抽〔2026〕17号",
            "authority": "佛山市南海区市场监督管理局",
            "severity": "serious",
            "product": "电热水壶",
        },
    },
    "Event": {
        "type": "object",
        "required": [
            "id",
            *EVENT_FIELDS,  # every field the event was submitted with, in the import file's order
            "status",
            "source",
            "recorded_at",
            "reviewed_at",
            "review_note",
            "revoked_at",
            "revoke_reason",
        ],
        "properties": {
            "id": {"type": "integer"},
            "uscc": {"type": "string", "pattern": "^[0-9A-HJ-NPQRTUWXY]{18}$"},
            "event_type": {"type": "string", "enum": list(EVENT_TYPES)},
            "occurred_on": {"type": "string", "format": "date"},
            "document_no": {"type": "string"},
            "authority": {"type": "string"},
            "severity": {"type": "string", "nullable": True, "enum": [*SEVERITY_LABELS, None]},
            "amount": {
                "type": "string",
                "nullable": True,
                "description": "两位小数的十进制字符串",
                "example": "50000.00",
            },
            "product": {"type": "string"},
            "valid_until": {"type": "string", "format": "date", "nullable": True},
            "description": {"type": "string"},
            "person_name": {"type": "string"},
            "certificate_no": {"type": "string"},
            "rectifies_document_no": {
                "type": "string",
                "nullable": True,
                "description": "rectified:所关联的不合格记录的文书号",
            },
            "status": {
                "type": "string",
                "enum": [s.value for s in EventStatus],
                "description": "pending 待审核 → effective 已生效 / rejected 已驳回;effective 可能再被 revoked 撤销",
            },
            "source": {"type": "string", "enum": ["form", "import", "api"]},
            "recorded_at": {"type": "string", "format": "date-time"},
            "reviewed_at": {"type": "string", "format": "date-time", "nullable": True},
            "review_note": {"type": "string", "description": "审核意见;驳回时为驳回理由"},
            "revoked_at": {"type": "string", "format": "date-time", "nullable": True},
            "revoke_reason": {"type": "string"},
        },
    },
}


_DATE = {"type": "string", "format": "date"}
_NUMBER = {
    "type": "string",
    "description": "发布编号:期次(2026-11、2026-Q4),更正为 <原编号>-R<k>",
    "example": "2026-11",
}
_PUBLICATION_HEAD: dict[str, Any] = {
    "number": _NUMBER,
    "period": {"type": "string", "description": "期次:YYYY-MM(月度)或 YYYY-Qn(季度)", "example": "2026-11"},
    "snapshot_date": {**_DATE, "description": "快照日:名单为当日在榜的企业"},
    "published_at": {"type": "string", "format": "date-time"},
    "red_count": {"type": "integer", "minimum": 0},
    "black_count": {"type": "integer", "minimum": 0},
    "corrects": {"type": "string", "nullable": True, "description": "本发布所更正的发布编号;原始发布为 null"},
    "withdrawn": {
        "type": "object",
        "nullable": True,
        "description": "撤回记录(发布有误而撤回;原发布内容不变);未撤回为 null",
        "required": ["withdrawn_on", "withdrawn_at", "reason"],
        "properties": {
            "withdrawn_on": _DATE,
            "withdrawn_at": {"type": "string", "format": "date-time"},
            "reason": {"type": "string", "description": "撤回理由"},
        },
    },
}
SCHEMAS.update(
    {
        "PublicationSummary": {
            "type": "object",
            "required": list(_PUBLICATION_HEAD),
            "properties": copy.deepcopy(_PUBLICATION_HEAD),
        },
        "PublicationList": {
            "type": "object",
            "required": ["publications"],
            "properties": {
                "publications": {
                    "type": "array",
                    "items": ref("PublicationSummary"),
                    "description": "历次发布,期次新者在前;同一期次更正在前",
                }
            },
        },
        "PublicationEntry": {
            "type": "object",
            "required": [
                "position",
                "listing_id",
                "uscc",
                "name",
                "region",
                "industry",
                "reason",
                "basis",
                "listed_from",
                "listed_until",
            ],
            "properties": {
                "position": {"type": "integer", "minimum": 1, "description": "榜内序号(按镇街、名称排列)"},
                "listing_id": {"type": "integer", "minimum": 1, "description": "列入记录编号(计入快照摘要)"},
                "uscc": {"type": "string", "pattern": "^[0-9A-HJ-NPQRTUWXY]{18}$"},
                "name": {"type": "string"},
                "region": {"type": "string", "description": "所属镇街"},
                "industry": {"type": "string", "description": "GB/T 4754-2017 门类(及大类),如 C39"},
                "reason": {"type": "string", "description": "列入理由"},
                "basis": {"type": "string", "description": "依据:黑名单情形或红榜条件、评价日、规则集版本"},
                "listed_from": _DATE,
                "listed_until": {**_DATE, "nullable": True, "description": "列入期满日(当日起不再在榜)"},
            },
        },
        "Publication": {
            "type": "object",
            "required": [
                *_PUBLICATION_HEAD,
                "period_start",
                "period_end",
                "rule_set_version",
                "correction_note",
                "corrected_by",
                "red",
                "black",
                "seal",
            ],
            "properties": {
                **copy.deepcopy(_PUBLICATION_HEAD),
                "period_start": _DATE,
                "period_end": _DATE,
                "rule_set_version": {"type": "integer", "minimum": 1},
                "correction_note": {"type": "string", "description": "更正说明;原始发布为空"},
                "corrected_by": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "更正了本发布的发布编号(以最新者为准)",
                },
                "red": {"type": "array", "items": ref("PublicationEntry"), "description": "红榜"},
                "black": {"type": "array", "items": ref("PublicationEntry"), "description": "黑榜"},
                "seal": {"nullable": True, "allOf": [ref("PublicationSeal")]},
            },
        },
        "PublicationSeal": {
            "type": "object",
            "description": (
                "发布的封存:快照摘要(规范快照的 SHA-256,见 docs/security.md)、发布时的审计链头(锚点)及本局"
                "对其的 Ed25519 签名;验证方法与核查答复相同(去掉 signature 后规范序列化)。"
                "签名功能启用前的发布 key_id 与 signature 为 null。"
            ),
            "required": ["number", "digest", "audit_entry", "audit_head", "key_id", "signature"],
            "properties": {
                "number": {"type": "string"},
                "digest": {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "快照摘要(十六进制)"},
                "audit_entry": {"type": "integer", "nullable": True, "description": "发布前最新的审计记录编号"},
                "audit_head": {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "该记录的哈希"},
                "key_id": {"type": "string", "nullable": True},
                "signature": {"type": "string", "nullable": True, "description": "Ed25519 签名的 base64"},
            },
        },
    }
)


_USCC = {"type": "string", "pattern": "^[0-9A-HJ-NPQRTUWXY]{18}$", "example": "914403001922038216"}
_PURPOSE = {
    "type": "string",
    "enum": list(PURPOSES),
    "description": "核查用途:" + ";".join(f"{code} {label}" for code, label in PURPOSE_LABELS.items()),
}
SCHEMAS.update(
    {
        "CheckListing": {
            "type": "object",
            "required": ["list", "status", "since", "until", "reason"],
            "properties": {
                "list": {"type": "string", "enum": ["red", "black"], "description": "red 红榜 / black 黑榜"},
                "status": {
                    "type": "string",
                    "description": "listed 在榜;proposed 拟列入(告知期内,尚未决定)",
                    "example": "listed",
                },
                "since": {**_DATE, "nullable": True, "description": "列入日(拟列入时为告知日)"},
                "until": {**_DATE, "nullable": True, "description": "期满日(当日起不再在榜)"},
                "reason": {"type": "string", "description": "列入理由"},
            },
        },
        "CheckMeasure": {
            "type": "object",
            "required": ["code", "text", "basis"],
            "properties": {
                "code": {"type": "string", "description": "措施代码,如 restrict_procurement"},
                "text": {"type": "string", "description": "措施内容"},
                "basis": {"type": "string", "description": "依据"},
            },
        },
        "CreditCheck": {
            "type": "object",
            "description": "一次信用核查的答复;已记入核查记录,check_id 为回执编号",
            "required": [
                "uscc",
                "name",
                "grade",
                "score",
                "lists",
                "measures",
                "rule_set",
                "as_of",
                "purpose",
                "check_id",
                "key_id",
                "signature",
            ],
            "properties": {
                "uscc": _USCC,
                "name": {"type": "string", "description": "企业名称"},
                "grade": {
                    "type": "string",
                    "enum": ["A", "B", "C", "D"],
                    "description": "A 守信、B 基本守信、C 失信·重点关注、D 严重失信",
                },
                "score": {"type": "integer", "description": "信用分(基准 100)"},
                "lists": {"type": "array", "items": ref("CheckListing"), "description": "核查日在榜或拟列入的条目"},
                "measures": {
                    "type": "array",
                    "items": ref("CheckMeasure"),
                    "description": "该用途适用的激励或惩戒措施及依据",
                },
                "rule_set": {"type": "integer", "minimum": 0, "description": "所用规则集版本"},
                "as_of": {**_DATE, "description": "核查日"},
                "pilot_code": {
                    "type": "boolean",
                    "description": "仅当该代码是管理员登记的合法试点代码（校验位不符 GB 32100-2015）时出现，值为 true",
                },
                "check_id": {
                    "type": "string",
                    "pattern": "^HC[0-9]{8}[0-9A-Z]{8}$",
                    "description": "回执编号(核查记录)",
                    "example": "HC20261122K7QX2M9A",
                },
                "purpose": _PURPOSE,
                "key_id": {"type": "string", "description": "签名密钥编号(见 /signing-keys)"},
                "signature": {
                    "type": "string",
                    "description": (
                        '本局 Ed25519 签名的 base64:对去掉 signature 后的同一 JSON 按键排序、分隔符 (",", ":")、'
                        "不转义非 ASCII、UTF-8 序列化后签名;批量核查中每项各自签名"
                    ),
                },
            },
        },
        "CreditBatchRequest": {
            "type": "object",
            "required": ["usccs", "purpose"],
            "additionalProperties": False,
            "properties": {
                "usccs": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1000,
                    "items": {"type": "string"},
                    "description": "统一社会信用代码,至多 1000 个;可重复,每次都单独作答并记录",
                },
                "purpose": _PURPOSE,
                "as_of": {**_DATE, "description": "核查日,默认今天(北京时间)"},
            },
            "example": {"usccs": ["914403001922038216", "91310110666007217T"], "purpose": "procurement"},
        },
        "CreditBatchError": {
            "type": "object",
            "required": ["uscc", "error", "message"],
            "properties": {
                "uscc": {"type": "string", "description": "所提交的代码"},
                "error": {
                    "type": "string",
                    "enum": ["invalid_uscc", "not_found"],
                    "description": "invalid_uscc 代码不合规则;not_found 本局无此企业",
                },
                "message": {"type": "string", "description": "说明;代码不合规则时指明所违反的规则"},
            },
        },
        "CreditBatchResult": {
            "type": "object",
            "required": ["results"],
            "properties": {
                "results": {
                    "type": "array",
                    "items": {"oneOf": [ref("CreditCheck"), ref("CreditBatchError")]},
                    "description": "与 usccs 一一对应、顺序相同:答复(带各自的 check_id)或该项的错误",
                }
            },
        },
    }
)
NO_STORE = {"Cache-Control": {"schema": {"type": "string", "enum": ["no-store"]}, "description": "答复不得缓存"}}


def error_response(description: str, schema: str = "Error") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


ERRORS: dict[int, dict[str, Any]] = {
    400: error_response("请求体不是 JSON 对象(bad_request)"),
    401: {
        **error_response("缺少、格式错误、未知或已吊销的 API 密钥(unauthorized)"),
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
    },
    403: error_response("密钥没有所需权限范围(forbidden)"),
    404: error_response("不存在,或不属于本部门(not_found)"),
    409: error_response("同一企业、同一事件类型、同一文书号的记录已存在(conflict)"),
    413: error_response("请求体过大(request_entity_too_large)"),
    422: error_response("校验未通过(validation_failed),details 逐项列出字段与原因", "ValidationError"),
    429: {
        **error_response("本密钥在当前时间窗内的请求已达上限(rate_limited)"),
        "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}, "description": "几秒后可再试"}},
    },
    500: error_response("服务器内部错误(internal_error),已记录"),
}


def operation(
    *,
    operation_id: str,
    summary: str,
    responses: dict[int, dict[str, Any]],
    errors: tuple[int, ...],
    scope: str | None = None,
    description: str = "",
    parameters: list[dict[str, Any]] | None = None,
    request_schema: str | None = None,
    tags: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One operation: the key scope it needs (None: public), its own responses and the shared errors."""
    op: dict[str, Any] = {"operationId": operation_id, "summary": summary, "tags": list(tags)}
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    if request_schema:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(request_schema)}}}
    statuses = set(errors) | {500}
    if scope is None:
        op["security"] = []
    else:
        op["security"] = [{SECURITY_SCHEME: []}]
        op["x-scopes"] = [scope]
        statuses |= {401, 403, 429}  # every keyed route counts against the key's rate limit
    op["responses"] = {str(status): body for status, body in responses.items()} | {
        str(status): ERRORS[status] for status in sorted(statuses)
    }
    return op


def _no_store(op: dict[str, Any]) -> dict[str, Any]:
    """Every answer of a check operation, errors too, carries `Cache-Control: no-store`."""
    op["responses"] = {
        status: {**response, "headers": {**response.get("headers", {}), **NO_STORE}}
        for status, response in op["responses"].items()
    }  # copies: the shared error responses of other operations stay as they are
    return op


EVENT_ID = {
    "name": "event_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
}

PATHS: dict[str, dict[str, Any]] = {
    "/credit/{uscc}": {
        "get": _no_store(
            operation(
                operation_id="checkCredit",
                summary="信用核查:一家企业的等级、在榜情况及该用途适用的措施",
                description=(
                    "按核查日实时评价,规则或记录一有变化即反映在答复中;每次核查都记入核查记录,"
                    "check_id 为回执编号。代码不合规则时 422 的说明指明所违反的规则。"
                ),
                scope="check",
                parameters=[
                    {
                        "name": "uscc",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "统一社会信用代码(18位,GB 32100-2015)",
                        "example": "914403001922038216",
                    },
                    {"name": "purpose", "in": "query", "required": True, "schema": _PURPOSE},
                    {
                        "name": "as_of",
                        "in": "query",
                        "required": False,
                        "schema": _DATE,
                        "description": "核查日 YYYY-MM-DD,默认今天(北京时间)",
                    },
                ],
                responses={
                    200: {"description": "核查答复", "content": {"application/json": {"schema": ref("CreditCheck")}}}
                },
                errors=(404, 422),
                tags=("checks",),
            )
        )
    },
    "/credit/batch": {
        "post": _no_store(
            operation(
                operation_id="checkCreditBatch",
                summary="批量信用核查(至多 1000 家,同一用途)",
                description="结果与输入一一对应、顺序相同;单项错误不影响其他项。每个答复都有自己的 check_id。",
                scope="check",
                request_schema="CreditBatchRequest",
                responses={
                    200: {
                        "description": "逐项答复",
                        "content": {"application/json": {"schema": ref("CreditBatchResult")}},
                    }
                },
                errors=(400, 413, 422),
                tags=("checks",),
            )
        )
    },
    "/events": {
        "post": operation(
            operation_id="recordEvent",
            summary="报送一条信用事件(待审核)",
            description=(
                "与录入表单相同的校验;成功后事件为 pending,经本局审核员审核后生效。用 Location 头中的地址查询审核结果。"
            ),
            scope="record",
            request_schema="EventInput",
            responses={
                201: {
                    "description": "已记录,待审核",
                    "headers": {"Location": {"schema": {"type": "string"}, "description": "/api/v1/events/{event_id}"}},
                    "content": {"application/json": {"schema": ref("Event")}},
                }
            },
            errors=(400, 409, 413, 422),
            tags=("events",),
        )
    },
    "/events/{event_id}": {
        "get": operation(
            operation_id="getEvent",
            summary="查询本部门报送的一条信用事件及其审核结果",
            scope="record",
            parameters=[EVENT_ID],
            responses={200: {"description": "该事件", "content": {"application/json": {"schema": ref("Event")}}}},
            errors=(404,),
            tags=("events",),
        )
    },
    "/publications": {
        "get": operation(
            operation_id="listPublications",
            summary="历次红黑榜发布(公开)",
            responses={
                200: {"description": "发布列表", "content": {"application/json": {"schema": ref("PublicationList")}}}
            },
            errors=(),
            tags=("publications",),
        )
    },
    "/publications/{number}": {
        "get": operation(
            operation_id="getPublication",
            summary="一次发布的红榜与黑榜(公开)",
            description="发布一经作出不再改动;更正为新的发布,以 corrects / corrected_by 互相指明。",
            parameters=[{"name": "number", "in": "path", "required": True, "schema": _NUMBER}],
            responses={200: {"description": "该发布", "content": {"application/json": {"schema": ref("Publication")}}}},
            errors=(404,),
            tags=("publications",),
        )
    },
    "/openapi.json": {
        "get": operation(
            operation_id="getOpenApi",
            summary="本文档(公开)",
            responses={
                200: {
                    "description": "OpenAPI 3.0.3 文档",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
            errors=(),
            tags=("meta",),
        )
    },
}


def openapi_document(server_url: str = "/api/v1") -> dict[str, Any]:
    """The whole document; paths are relative to `server_url`."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": copy.deepcopy(INFO),
        "servers": [{"url": server_url}],
        "tags": [
            {"name": "checks", "description": "信用核查(scope: check)"},
            {"name": "events", "description": "信用事件报送(scope: record)"},
            {"name": "publications", "description": "红黑榜发布(公开,无需密钥)"},
            {"name": "meta", "description": "关于本 API"},
            {"name": "watch", "description": "关注名单、Webhook 与变更流(scope: watch)"},
        ],
        "paths": copy.deepcopy(PATHS),
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "<prefix>.<secret>",
                    "description": "部门 API 密钥;权限范围 check(信用查询)、record(事件报送)、watch(关注与推送)",
                }
            },
        },
    }


# --- The daily bulk file of current listings --------------------------------------------------------

SCHEMAS["BulkListing"] = {
    "type": "object",
    "required": ["uscc", "name", "region", "list", "since", "until", "reason"],
    "properties": {
        "uscc": {"type": "string", "minLength": 18, "maxLength": 18},
        "name": {"type": "string"},
        "region": {"type": "string"},
        "list": {"type": "string", "enum": ["red", "black"]},
        "since": _DATE,
        "until": {**_DATE, "nullable": True},
        "reason": {"type": "string"},
    },
}
SCHEMAS["BulkListings"] = {
    "type": "object",
    "required": ["as_of", "listings"],
    "properties": {"as_of": _DATE, "listings": {"type": "array", "items": ref("BulkListing")}},
}
PATHS["/listings"] = {
    "get": operation(
        operation_id="currentListings",
        summary="当日在榜企业全量文件(供同步)",
        description="当日红榜、黑榜在榜企业全量;format=csv 时为 UTF-8(带 BOM)CSV。每日更新,部门可每日同步一次。",
        scope="check",
        parameters=[
            {
                "name": "format",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"},
            }
        ],
        responses={
            200: {
                "description": "在榜企业",
                "content": {
                    "application/json": {"schema": ref("BulkListings")},
                    "text/csv": {"schema": {"type": "string"}},
                },
                "headers": {
                    "ETag": {"schema": {"type": "string"}, "description": "随名单变化与日期而变"},
                    "Last-Modified": {"schema": {"type": "string"}},
                },
            },
            304: {"description": "If-None-Match 与当前 ETag 相同:未变"},
        },
        errors=(422,),
        tags=("checks",),
    )
}


# --- The bureau's signing keys ------------------------------------------------------------------------

SCHEMAS["SigningKey"] = {
    "type": "object",
    "required": ["key_id", "algorithm", "public_key", "valid_from", "retired_on"],
    "properties": {
        "key_id": {"type": "string"},
        "algorithm": {"type": "string", "enum": ["Ed25519"]},
        "public_key": {"type": "string", "description": "原始 32 字节公钥的 base64"},
        "valid_from": {"type": "string", "format": "date-time"},
        "retired_on": {"type": "string", "format": "date-time", "nullable": True},
    },
}
SCHEMAS["SigningKeys"] = {
    "type": "object",
    "required": ["keys"],
    "properties": {"keys": {"type": "array", "items": ref("SigningKey")}},
}
PATHS["/signing-keys"] = {
    "get": operation(
        operation_id="signingKeys",
        summary="本局签名公钥(公开,含已停用的)",
        description=(
            '核查答复、回执与发布带 signature(对去掉 signature 后的同一 JSON 按键排序、分隔符 (",", ":")、'
            "不转义非 ASCII、UTF-8 序列化后的 Ed25519 签名,base64)与 key_id;用此处的公钥即可离线验证。"
        ),
        responses={200: {"description": "签名公钥", "content": {"application/json": {"schema": ref("SigningKeys")}}}},
        errors=(),
        tags=("publications",),
    )
}


# --- Receipts: confirmed by whoever holds one -----------------------------------------------------------

SCHEMAS["Receipt"] = {
    "type": "object",
    "required": ["check_id", "checked_at", "verification_code", "answer"],
    "properties": {
        "check_id": {"type": "string"},
        "checked_at": {"type": "string", "format": "date-time"},
        "verification_code": {"type": "string", "pattern": "^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$"},
        "answer": ref("CreditCheck"),
    },
}
PATHS["/receipts/{check_id}"] = {
    "get": _no_store(
        operation(
            operation_id="confirmReceipt",
            summary="核实核查回执(公开,须回执上的验证码)",
            description=(
                "持回执者以回执编号与验证码取回当时的答复(带签名,可用 /signing-keys 的公钥离线验证)。"
                "回执编号不存在与验证码不符同为 404。"
            ),
            parameters=[
                {"name": "check_id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 40}},
                {
                    "name": "code",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "maxLength": 40},
                    "description": "回执上的 16 位验证码(大小写、空格与连字符不计)",
                },
            ],
            responses={200: {"description": "回执与答复", "content": {"application/json": {"schema": ref("Receipt")}}}},
            errors=(404, 422),
            tags=("checks",),
        )
    )
}


# --- Watch lists, webhooks and the changes feed (issue 15; scope watch) -------------------------------

_WATCH_TAG = ("watch",)
_USCC_PATH = {"name": "uscc", "in": "path", "required": True, "schema": {"type": "string"}}
_SUB_PATH = {"name": "subscription_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_DELIVERY_PATH = {"name": "delivery_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


def _query_int(name: str, low: int, high: int, description: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "integer", "minimum": low, "maximum": high},
    }


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


_INSTANT = {"type": "string", "format": "date-time"}
SCHEMAS["WatchEntry"] = {
    "type": "object",
    "required": ["uscc", "since"],
    "properties": {
        "uscc": {"type": "string"},
        "name": {"type": "string", "nullable": True},
        "since": _INSTANT,
    },
}
SCHEMAS["WatchList"] = {
    "type": "object",
    "required": ["watch", "page", "per_page", "total"],
    "properties": {
        "watch": {"type": "array", "items": ref("WatchEntry")},
        "page": {"type": "integer"},
        "per_page": {"type": "integer"},
        "total": {"type": "integer"},
    },
}
SCHEMAS["SubscriptionNew"] = {
    "type": "object",
    "required": ["url"],
    "properties": {
        "url": {"type": "string", "maxLength": 500, "description": "http(s) 地址,主机须在管理员允许的名单或网段内"},
        "scope": {"type": "string", "enum": ["watched", "all"], "default": "watched"},
    },
}
SCHEMAS["Subscription"] = {
    "type": "object",
    "required": ["id", "url", "scope", "active", "created_at", "ended_at"],
    "properties": {
        "id": {"type": "integer"},
        "url": {"type": "string"},
        "scope": {"type": "string", "enum": ["watched", "all"]},
        "active": {"type": "boolean"},
        "created_at": _INSTANT,
        "ended_at": {**_INSTANT, "nullable": True},
        "secret": {"type": "string", "description": "仅在创建时返回一次:HMAC 签名密钥"},
    },
}
SCHEMAS["SubscriptionList"] = {
    "type": "object",
    "required": ["subscriptions"],
    "properties": {"subscriptions": {"type": "array", "items": ref("Subscription")}},
}
SCHEMAS["DeliveryAttempt"] = {
    "type": "object",
    "required": ["at", "status_code", "error", "duration_ms"],
    "properties": {
        "at": _INSTANT,
        "status_code": {"type": "integer", "nullable": True},
        "error": {"type": "string"},
        "duration_ms": {"type": "integer"},
    },
}
SCHEMAS["Delivery"] = {
    "type": "object",
    "required": ["id", "change_id", "status", "attempts", "created_at", "log"],
    "properties": {
        "id": {"type": "integer"},
        "change_id": {"type": "integer", "nullable": True, "description": "变更编号;测试投递为 null"},
        "status": {"type": "string", "enum": ["pending", "delivered", "parked"]},
        "attempts": {"type": "integer"},
        "created_at": _INSTANT,
        "next_attempt_at": {**_INSTANT, "nullable": True},
        "delivered_at": {**_INSTANT, "nullable": True},
        "last_status": {"type": "integer", "nullable": True},
        "last_error": {"type": "string"},
        "log": {"type": "array", "items": ref("DeliveryAttempt")},
    },
}
SCHEMAS["DeliveryLog"] = {
    "type": "object",
    "required": ["deliveries", "page", "per_page", "total"],
    "properties": {
        "deliveries": {"type": "array", "items": ref("Delivery")},
        "page": {"type": "integer"},
        "per_page": {"type": "integer"},
        "total": {"type": "integer"},
    },
}
SCHEMAS["Queued"] = {
    "type": "object",
    "required": ["id", "status"],
    "properties": {"id": {"type": "integer"}, "status": {"type": "string", "enum": ["pending"]}},
}
SCHEMAS["Change"] = {
    "type": "object",
    "required": ["id", "kind", "uscc", "recorded_at", "data"],
    "properties": {
        "id": {"type": "integer", "description": "变更编号,按提交顺序递增;即游标"},
        "kind": {
            "type": "string",
            "description": "grade.changed、listing.proposed、listing.listed、listing.withdrawn、listing.removed、"
            "listing.updated、publication.published",
        },
        "uscc": {"type": "string", "nullable": True},
        "recorded_at": {"type": "string"},
        "data": {"type": "object", "additionalProperties": True},
    },
}
SCHEMAS["ChangePage"] = {
    "type": "object",
    "required": ["changes", "next", "has_more", "newest"],
    "properties": {
        "changes": {"type": "array", "items": ref("Change")},
        "next": {"type": "integer", "description": "下一页的 since"},
        "has_more": {"type": "boolean"},
        "newest": {"type": "integer"},
    },
}
_NO_CONTENT = {"description": "已完成"}

PATHS["/watch"] = {
    "get": operation(
        operation_id="watchList",
        summary="本部门关注的企业(分页)",
        scope="watch",
        parameters=[_query_int("page", 1, 1_000_000), _query_int("per_page", 1, 500)],
        responses={200: _json("WatchList", "关注名单")},
        errors=(422,),
        tags=_WATCH_TAG,
    )
}
PATHS["/watch/{uscc}"] = {
    "get": operation(
        operation_id="watchGet",
        summary="是否关注某企业",
        scope="watch",
        parameters=[_USCC_PATH],
        responses={200: _json("WatchEntry", "已关注")},
        errors=(404, 422),
        tags=_WATCH_TAG,
    ),
    "put": operation(
        operation_id="watchPut",
        summary="关注某企业(幂等)",
        scope="watch",
        parameters=[_USCC_PATH],
        responses={200: _json("WatchEntry", "原已关注"), 201: _json("WatchEntry", "新关注")},
        errors=(404, 422),
        tags=_WATCH_TAG,
    ),
    "delete": operation(
        operation_id="watchDelete",
        summary="取消关注",
        scope="watch",
        parameters=[_USCC_PATH],
        responses={204: _NO_CONTENT},
        errors=(404, 422),
        tags=_WATCH_TAG,
    ),
}
PATHS["/subscriptions"] = {
    "get": operation(
        operation_id="subscriptionList",
        summary="本部门的 Webhook 订阅",
        scope="watch",
        responses={200: _json("SubscriptionList", "订阅")},
        errors=(),
        tags=_WATCH_TAG,
    ),
    "post": operation(
        operation_id="subscriptionCreate",
        summary="新建 Webhook 订阅(密钥只返回一次)",
        scope="watch",
        request_schema="SubscriptionNew",
        responses={201: _json("Subscription", "已创建,含 secret")},
        errors=(400, 413, 422),
        tags=_WATCH_TAG,
    ),
}
PATHS["/subscriptions/{subscription_id}"] = {
    "get": operation(
        operation_id="subscriptionGet",
        summary="一个订阅",
        scope="watch",
        parameters=[_SUB_PATH],
        responses={200: _json("Subscription", "订阅")},
        errors=(404,),
        tags=_WATCH_TAG,
    ),
    "delete": operation(
        operation_id="subscriptionDelete",
        summary="停止订阅(保留记录)",
        scope="watch",
        parameters=[_SUB_PATH],
        responses={204: _NO_CONTENT},
        errors=(404,),
        tags=_WATCH_TAG,
    ),
}
PATHS["/subscriptions/{subscription_id}/deliveries"] = {
    "get": operation(
        operation_id="subscriptionDeliveries",
        summary="投递记录(新者在前,含每次尝试)",
        scope="watch",
        parameters=[
            _SUB_PATH,
            _query_int("page", 1, 1_000_000),
            _query_int("per_page", 1, 200),
            {
                "name": "status",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": ["pending", "delivered", "parked"]},
            },
        ],
        responses={200: _json("DeliveryLog", "投递记录")},
        errors=(404, 422),
        tags=_WATCH_TAG,
    )
}
PATHS["/subscriptions/{subscription_id}/deliveries/{delivery_id}/replay"] = {
    "post": operation(
        operation_id="deliveryReplay",
        summary="重新投递",
        scope="watch",
        parameters=[_SUB_PATH, _DELIVERY_PATH],
        responses={202: _json("Queued", "已排队")},
        errors=(404,),
        tags=_WATCH_TAG,
    )
}
PATHS["/subscriptions/{subscription_id}/test"] = {
    "post": operation(
        operation_id="subscriptionTest",
        summary="发送测试投递(webhook.test)",
        scope="watch",
        parameters=[_SUB_PATH],
        responses={202: _json("Queued", "已排队")},
        errors=(404,),
        tags=_WATCH_TAG,
    )
}
PATHS["/changes"] = {
    "get": operation(
        operation_id="changes",
        summary="变更流:游标之后的每一项变更,按提交顺序",
        description="漏收 Webhook 的部门据此补齐:从 since=0 起,以答复中的 next 为下一页的 since,直到 has_more 为 false。",
        scope="watch",
        parameters=[_query_int("since", 0, 2**31 - 1, "上次答复的 next"), _query_int("limit", 1, 1000)],
        responses={200: _json("ChangePage", "变更")},
        errors=(422,),
        tags=_WATCH_TAG,
    )
}
