"""A client in another language, written from the README's "Wire protocol"
section alone: Python's standard library, no libmicro, no protobuf package.

    /usr/bin/python3 t/peers/foreign_client.py HOST:PORT

Calls the test service's Test.Echo with JSON and with protobuf (encoded by
hand), then reads an error reply. Prints one "ok" line for each.
"""

import http.client
import json
import sys


def call(conn, endpoint, content_type, body):
    conn.request("POST", "/", body=body, headers={
        "Content-Type": content_type,
        "Micro-Service": "go.micro.srv.test",
        "Micro-Endpoint": endpoint,
        "Micro-Id": "py-1",
    })
    resp = conn.getresponse()
    return resp.status, resp.getheader("Content-Type"), \
        resp.getheader("Micro-Error"), resp.read()


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field_bytes(number, data):
    return varint(number << 3 | 2) + varint(len(data)) + data


def parse(data):
    """Field number -> value for a flat message of varints and bytes."""
    fields, i = {}, 0
    while i < len(data):
        key, shift = 0, 0
        while True:
            b = data[i]; i += 1
            key |= (b & 0x7F) << shift; shift += 7
            if b < 0x80:
                break
        number, wire = key >> 3, key & 7
        value, shift = 0, 0
        while True:
            b = data[i]; i += 1
            value |= (b & 0x7F) << shift; shift += 7
            if b < 0x80:
                break
        if wire == 2:
            value, i = data[i:i + value], i + value
        fields[number] = value
    return fields


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=20)

    status, ctype, _, body = call(conn, "Test.Echo", "application/json",
                                  json.dumps({"text": "py", "n": "42"}))
    reply = json.loads(body)
    assert status == 200 and ctype == "application/json", (status, ctype)
    assert reply["text"] == "py" and reply["n"] == "42", reply
    print("json ok")

    # EchoRequest{text = 1: "pb", n = 2: 300} on the same keepalive connection
    request = field_bytes(1, b"pb") + varint(2 << 3) + varint(300)
    status, ctype, _, body = call(conn, "Test.Echo", "application/protobuf",
                                  request)
    fields = parse(body)
    assert status == 200 and ctype == "application/protobuf", (status, ctype)
    assert fields[1] == b"pb" and fields[2] == 300, fields
    print("protobuf ok")

    status, _, header, body = call(conn, "Test.Fail", "application/json",
                                   json.dumps({"code": 418, "detail": "tea"}))
    error = json.loads(header)
    assert status == 418 and error == json.loads(body), (status, header, body)
    assert error["detail"] == "tea" and error["id"] == "go.micro.srv.test"
    print("error ok")


if __name__ == "__main__":
    main()
