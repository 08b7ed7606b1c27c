//! Edits of a metakernel that keep every other byte: dropping entries (the windowed
//! `get`, `--allow-missing`) and appending a comment block. Pure, over bytes.

use std::collections::HashSet;

use super::Metakernel;

/// The local metakernel without the strings of the entries at `drop` (indexes into
/// its entries), checked by parsing the result: every other entry kept, in order.
pub fn drop_entries(local: &[u8], drop: &[usize]) -> Result<Vec<u8>, String> {
    let rewrite_err = |why: String| why;
    let skipped = drop;
    let parsed = Metakernel::parse(local).map_err(|e| rewrite_err(e.to_string()))?;
    let all = parsed.entries().map_err(|e| rewrite_err(e.to_string()))?;
    let skip: HashSet<usize> = skipped.iter().copied().collect();
    if skip.iter().any(|&i| i >= all.len()) {
        return Err(rewrite_err("entry count changed".into()));
    }
    let mut spans: Vec<(usize, usize)> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| skip.contains(i))
        .flat_map(|(_, e)| e.spans.iter().map(|s| (s.start, s.end)))
        .collect();
    spans.sort_unstable();
    let mut out = Vec::with_capacity(local.len() + 256);
    let mut at = 0;
    let mut line_start_out = 0;
    let mut touched = false;
    let mut k = 0;
    while at < local.len() {
        if k < spans.len() && spans[k].0 == at {
            at = spans[k].1;
            k += 1;
            touched = true;
            // A comma right after the removed string goes with it.
            let mut j = at;
            while j < local.len() && (local[j] == b' ' || local[j] == b'\t') {
                j += 1;
            }
            if j < local.len() && local[j] == b',' {
                at = j + 1;
            }
            continue;
        }
        let b = local[at];
        out.push(b);
        at += 1;
        if b == b'\n' {
            if touched
                && out[line_start_out..]
                    .iter()
                    .all(|c| matches!(c, b' ' | b'\t' | b',' | b'\r' | b'\n'))
            {
                out.truncate(line_start_out);
            }
            line_start_out = out.len();
            touched = false;
        }
    }
    if touched
        && out[line_start_out..]
            .iter()
            .all(|c| matches!(c, b' ' | b'\t' | b','))
    {
        out.truncate(line_start_out);
    }
    // Check: the entries are the taken ones, in order.
    let want: Vec<&str> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| !skip.contains(i))
        .map(|(_, e)| e.path.as_str())
        .collect();
    let check = Metakernel::parse(&out)
        .and_then(|m| m.entries())
        .map_err(|e| rewrite_err(e.to_string()))?;
    if check.iter().map(|e| e.path.as_str()).collect::<Vec<_>>() != want {
        return Err(rewrite_err(
            "the entries left are not the taken ones".into(),
        ));
    }
    Ok(out)
}

/// Appends a comment block to a metakernel (after `\begintext` when its data
/// section is still open), in the file's own line ends.
pub fn append_lines(out: &mut Vec<u8>, text: &[String]) {
    let eol: &[u8] = if out.windows(2).any(|w| w == b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    };
    let mut in_data = false;
    for line in out.split(|&b| b == b'\n') {
        match String::from_utf8_lossy(line).trim() {
            "\\begindata" => in_data = true,
            "\\begintext" => in_data = false,
            _ => {}
        }
    }
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.extend_from_slice(eol);
    }
    let mut lines = Vec::new();
    if in_data {
        lines.push("\\begintext".to_owned());
    }
    lines.push(String::new());
    lines.extend(text.iter().cloned());
    lines.push(String::new());
    for l in lines {
        out.extend_from_slice(l.as_bytes());
        out.extend_from_slice(eol);
    }
}
