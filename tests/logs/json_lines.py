"""Reads a log written with --log-format json, as a log shipper would: every line must be one JSON
object with a UTC time, a known level, a component and a message. Prints a JSON summary
({"lines", "components": {name: count}, "levels": {name: count}, "warnings": ["component: message"]});
exits 1 naming the first bad line."""
import json
import re
import sys

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = {"trace", "debug", "info", "warn", "error"}

components, levels, warnings, count = {}, {}, [], 0
with open(sys.argv[1], encoding="utf-8") as log:
    for number, line in enumerate(log, 1):
        try:
            record = json.loads(line)
            keys = list(record)[:4]
            assert keys == ["time", "level", "component", "message"], "fields %s" % keys
            assert TIME.match(record["time"]), "time %r" % record["time"]
            assert record["level"] in LEVELS, "level %r" % record["level"]
            assert isinstance(record["component"], str) and record["component"], "component"
            assert isinstance(record["message"], str) and record["message"], "message"
        except (ValueError, AssertionError) as e:
            sys.exit("%s:%d: %s: %r" % (sys.argv[1], number, e, line))
        count += 1
        components[record["component"]] = components.get(record["component"], 0) + 1
        levels[record["level"]] = levels.get(record["level"], 0) + 1
        if record["level"] in ("warn", "error"):
            warnings.append("%s: %s" % (record["component"], record["message"]))
print(json.dumps({"lines": count, "components": components, "levels": levels, "warnings": warnings}))
