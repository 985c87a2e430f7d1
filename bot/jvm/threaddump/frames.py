"""Stack frames written by Java code (`StackTraceElement.toString()`, as in Thread.dump_to_file's
JSON and Spring Boot's text dump) in the form `Thread.print` uses, so one analysis reads all.

`toString()` puts the class loader and module first (`app//com.x.A.run(A.java:1)`,
`java.base/java.lang.Object.wait(Native Method)`); `Thread.print` starts with the class
(`java.lang.Object.wait(java.base@21/Native Method)`), which is what the analysis keys on.
See java.lang.StackTraceElement#toString in OpenJDK (src/java.base/share/classes/java/lang/
StackTraceElement.java).
"""

from __future__ import annotations

from collections.abc import Mapping


def frame_of_element(text: str) -> str:
    """`java.base/java.lang.Thread.sleep(Native Method)` → `java.lang.Thread.sleep(Native Method)`.

    The loader and module are the up to two `/`-ended parts before the class; a hidden class
    (`Main$$Lambda/0x…`) has a `/` of its own, which is kept.
    """
    paren = text.find("(")
    head = text if paren < 0 else text[:paren]
    parts = head.split("/")
    if len(parts) > 1 and parts[-1].startswith("0x"):
        parts[-2:] = [parts[-2] + "/" + parts[-1]]
    if len(parts) == 1:
        return text
    return parts[-1] + ("" if paren < 0 else text[paren:])


def frame_of_json_element(element: Mapping[str, object]) -> str:
    """A `java.lang.management` StackTraceElement as JSON (Spring Boot's /threaddump) as a
    frame: `com.x.Service.run(Service.java:42)`."""
    cls, method = element.get("className"), element.get("methodName")
    file_name, line = element.get("fileName"), element.get("lineNumber")
    if element.get("nativeMethod") is True:
        where = "Native Method"
    elif isinstance(file_name, str) and isinstance(line, int) and line >= 0:
        where = f"{file_name}:{line}"
    elif isinstance(file_name, str):
        where = file_name
    else:
        where = "Unknown Source"
    return f"{cls}.{method}({where})"
