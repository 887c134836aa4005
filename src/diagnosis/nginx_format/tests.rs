//! Unit tests of compiling formats and reading lines, values and times.

use super::*;

fn get<'a>(v: &Values<'a>, f: Field) -> &'a str {
    std::str::from_utf8(v.get(f).unwrap()).unwrap()
}

#[test]
fn combined_preset_parses_a_real_line() {
    let f = LogFormat::compile("combined").unwrap();
    let line = br#"203.0.113.7 - - [10/Oct/2023:13:55:36 +0000] "GET /api/orders/12345?x=1 HTTP/1.1" 200 612 "-" "Mozilla/5.0 (X11; Linux x86_64) \x22quoted\x22""#;
    let v = f.parse(line).unwrap();
    assert_eq!(
        get(&v, Field::Request),
        "GET /api/orders/12345?x=1 HTTP/1.1"
    );
    assert_eq!(get(&v, Field::Status), "200");
    assert_eq!(
        parse_time_local(v.get(Field::TimeLocal).unwrap()),
        Some(1_696_946_136)
    );
    assert!(v.get(Field::RequestTime).is_none());
    assert!(!f.has(Field::RequestTime));
}

#[test]
fn directive_text_with_quotes_and_concatenation() {
    let f = LogFormat::compile(
        "log_format upstream_time '$remote_addr - $remote_user [$time_local] '\n   '\"$request\" $status $body_bytes_sent '\n '\"$http_referer\" \"$http_user_agent\" '\n 'rt=$request_time uct=\"$upstream_connect_time\" uht=\"$upstream_header_time\" urt=\"$upstream_response_time\"';",
    )
    .unwrap();
    assert_eq!(f.text, TIMED);
    let line = br#"10.0.0.1 - alice [10/Oct/2023:13:55:36 +0200] "POST /login HTTP/2.0" 502 0 "-" "curl/8.0" rt=0.250 uct="0.001, 0.002" uht="-, 0.200" urt="0.010, 0.230""#;
    let v = f.parse(line).unwrap();
    assert_eq!(get(&v, Field::UpstreamResponseTime), "0.010, 0.230");
    let t = parse_time_list(v.get(Field::UpstreamResponseTime).unwrap()).unwrap();
    assert_eq!((t.sum_ms, t.count, t.tries), (240, 2, 2));
    let h = parse_time_list(v.get(Field::UpstreamHeaderTime).unwrap()).unwrap();
    assert_eq!((h.sum_ms, h.count, h.tries), (200, 1, 2));
    assert_eq!(parse_ms(v.get(Field::RequestTime).unwrap()), Some(250));
}

#[test]
fn json_format_with_escaped_quotes_and_braces() {
    let f = LogFormat::compile(
        r#"log_format json_combined escape=json '{"time":"$time_iso8601","method":"$request_method","uri":"$uri","status":$status,"request_time":$request_time,"upstream_response_time":"$upstream_response_time","ua":"$http_user_agent"}';"#,
    )
    .unwrap();
    assert_eq!(f.escape(), Escape::Json);
    let line = br#"{"time":"2024-03-01T10:00:00+01:00","method":"GET","uri":"/api/items/42","status":200,"request_time":0.042,"upstream_response_time":"0.040","ua":"agent \"x\\\",\"y"}"#;
    let v = f.parse(line).unwrap();
    assert_eq!(get(&v, Field::Uri), "/api/items/42");
    assert_eq!(get(&v, Field::RequestMethod), "GET");
    assert_eq!(
        parse_rfc3339(v.get(Field::TimeIso8601).unwrap()),
        Some(1_709_283_600)
    );
}

#[test]
fn braces_syntax_and_any_order() {
    let f = LogFormat::compile(
        "${status}|${request_time}|$upstream_response_time|${request_method} ${uri}",
    )
    .unwrap();
    let v = f.parse(b"404|0.003|-|GET /x y").unwrap();
    assert_eq!(get(&v, Field::Uri), "/x y");
    assert_eq!(parse_time_list(b"-").unwrap().count, 0);
}

#[test]
fn internal_redirect_lists_with_colons() {
    let f = LogFormat::compile("$status $upstream_status $upstream_response_time $uri").unwrap();
    let v = f
        .parse(b"200 502, 504 : 200 0.100, 0.200 : 0.050 /api/x")
        .unwrap();
    assert_eq!(get(&v, Field::UpstreamResponseTime), "0.100, 0.200 : 0.050");
    assert_eq!(
        parse_status(v.get(Field::UpstreamStatus).unwrap()),
        Some(200)
    );
    let t = parse_time_list(v.get(Field::UpstreamResponseTime).unwrap()).unwrap();
    assert_eq!((t.sum_ms, t.count, t.tries), (350, 3, 3));
    assert_eq!(get(&v, Field::Uri), "/api/x");
}

#[test]
fn malformed_lines_say_where_they_diverge() {
    let f = LogFormat::compile("timed").unwrap();
    // A combined line without the timings.
    let line = br#"1.2.3.4 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "curl""#;
    let d = f.parse(line).unwrap_err();
    assert_eq!(d.byte, line.len() - 5);
    assert!(
        d.expected.contains("$http_user_agent followed by `\" rt=`"),
        "{d}"
    );
    // A different layout whose separators happen to match: the status check catches it.
    let f = LogFormat::compile("$remote_addr $status $request_time").unwrap();
    let d = f.parse(b"1.2.3.4 GET 0.1").unwrap_err();
    assert_eq!(d.byte, 8);
    assert!(d.to_string().contains("3-digit status"), "{d}");
    let d = f.parse(b"1.2.3.4 200 fast").unwrap_err();
    assert!(d.to_string().contains("$request_time"), "{d}");
    // A literal that does not match mid-way.
    let f = LogFormat::compile("combined").unwrap();
    let d = f
        .parse(br#"1.2.3.4 - - (10/Oct/2023:13:55:36 +0000) "GET / HTTP/1.1" 200 5 "-" "c""#)
        .unwrap_err();
    assert_eq!(d.byte, 10);
    assert!(d.expected.contains("$remote_user followed by ` [`"), "{d}");
}

#[test]
fn bad_formats_are_refused_with_a_reason() {
    for (spec, needle) in [
        ("", "preset"),
        ("just text", "no `$variable`"),
        ("$request_time$status", "nothing between them"),
        ("${status", "not closed"),
        ("$remote_addr $http_user_agent", "records none"),
        ("log_format x escape=yaml '$status'", "escape=yaml"),
        ("log_format x '$status", "not closed"),
    ] {
        let e = LogFormat::compile(spec).unwrap_err();
        assert!(e.0.contains(needle), "{spec}: {e}");
    }
}

#[test]
fn numbers_and_times() {
    assert_eq!(parse_ms(b"0.123"), Some(123));
    assert_eq!(parse_ms(b"1.5"), Some(1500));
    assert_eq!(parse_ms(b"12"), Some(12000));
    assert_eq!(parse_ms(b"0.0005"), Some(1));
    assert_eq!(parse_ms(b"."), None);
    assert_eq!(parse_ms(b"-"), None);
    assert_eq!(parse_ms(b"1e3"), None);
    assert_eq!(parse_status(b"502, 200"), Some(200));
    assert_eq!(parse_status(b"-"), None);
    assert_eq!(parse_msec(b"1700000000.123"), Some(1_700_000_000));
    assert_eq!(parse_rfc3339(b"2024-01-01T00:00:00Z"), Some(1_704_067_200));
    assert_eq!(
        parse_rfc3339(b"2024-01-01T00:00:00.5+01:00"),
        Some(1_704_067_200 - 3600)
    );
    assert_eq!(format_rfc3339(1_704_067_200), "2024-01-01T00:00:00Z");
    assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(
        parse_time_local(b"29/Feb/2000:00:00:00 +0000"),
        Some(951_782_400)
    );
    assert_eq!(parse_time_local(b"29/Foo/2000:00:00:00 +0000"), None);
}
