"""The baseline of bench/check.py: a bare Flask JSON endpoint of the check's shape, served the same way
(gunicorn -w 2, sync workers), doing no database work at all."""

from flask import Flask, jsonify

app = Flask(__name__)

ANSWER = {
    "name": "东莞市某某电器有限公司",
    "grade": "B",
    "score": 100,
    "lists": [],
    "measures": [],
    "rule_set": 1,
    "as_of": "2026-11-22",
    "check_id": "HC20261122K7QX2M9A",
}


@app.get("/api/v1/credit/<uscc>")
def check(uscc: str):
    return jsonify({**ANSWER, "uscc": uscc})
