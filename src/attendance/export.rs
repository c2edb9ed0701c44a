//! A session's roll call as CSV and XLSX files: Vietnamese headers, times as dd/mm/yyyy HH:mm in
//! Asia/Ho_Chi_Minh, one row per invited site.

use super::report::SessionAttendance;
use chrono::{DateTime, Utc};

/// Column headers of both files.
pub const HEADERS: [&str; 12] = [
    "STT",
    "Điểm cầu",
    "Đơn vị",
    "Trạng thái",
    "Vào lúc",
    "Rời lúc",
    "Thời gian có mặt (phút)",
    "Số lần mất kết nối",
    "Đến muộn",
    "Về sớm",
    "Lý do",
    "Người đánh dấu",
];

/// dd/mm/yyyy HH:mm in Hanoi time; empty for none.
pub fn hanoi(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| {
        t.with_timezone(&crate::tz())
            .format("%d/%m/%Y %H:%M")
            .to_string()
    })
    .unwrap_or_default()
}

fn yes(b: bool) -> &'static str {
    if b { "Có" } else { "" }
}

/// The cells of each row, as text (the XLSX writes the numbers as numbers).
fn rows(r: &SessionAttendance) -> Vec<[String; 12]> {
    r.sites
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let m = &s.summary;
            let name = if s.is_host {
                format!("{} (chủ trì)", s.site_name)
            } else {
                s.site_name.clone()
            };
            [
                (i + 1).to_string(),
                name,
                s.unit_name.clone(),
                m.status.label_vi().to_string(),
                hanoi(m.first_join),
                hanoi(m.last_leave),
                (m.present_seconds / 60).to_string(),
                m.incidents.to_string(),
                yes(m.late).to_string(),
                yes(m.left_early).to_string(),
                m.mark
                    .as_ref()
                    .map(|k| k.reason.clone())
                    .unwrap_or_default(),
                m.mark
                    .as_ref()
                    .map(|k| format!("{} – {}", k.marked_by, hanoi(Some(k.marked_at))))
                    .unwrap_or_default(),
            ]
        })
        .collect()
}

/// The roll call as CSV (UTF-8 with a byte-order mark, so spreadsheet programs read the
/// diacritics right).
pub fn csv(r: &SessionAttendance) -> Result<Vec<u8>, csv::Error> {
    let mut out = Vec::from("\u{feff}".as_bytes());
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(HEADERS)?;
        for row in rows(r) {
            w.write_record(&row)?;
        }
        w.flush()?;
    }
    Ok(out)
}

/// The roll call as an XLSX workbook: a title block (session, chair, time), then the table.
pub fn xlsx(r: &SessionAttendance) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, FormatBorder, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Điểm danh")?;
    let bold = Format::new().set_bold();
    let head = Format::new()
        .set_bold()
        .set_border(FormatBorder::Thin)
        .set_text_wrap();
    let cell = Format::new().set_border(FormatBorder::Thin);
    ws.write_string_with_format(0, 0, "BIÊN BẢN ĐIỂM DANH", &bold)?;
    ws.write_string(1, 0, format!("Phiên họp: {}", r.title))?;
    ws.write_string(2, 0, format!("Chủ trì: {} – {}", r.chair, r.host_name))?;
    ws.write_string(
        3,
        0,
        format!("Thời gian: {} – {}", hanoi(r.starts_at), hanoi(r.ends_at)),
    )?;
    ws.write_string(
        4,
        0,
        format!(
            "Có mặt: {}/{} điểm cầu; lập lúc {}",
            r.counts.attended,
            r.counts.expected,
            hanoi(Some(r.generated_at))
        ),
    )?;
    let top = 6u32;
    for (c, h) in HEADERS.iter().enumerate() {
        ws.write_string_with_format(top, c as u16, *h, &head)?;
    }
    for (i, row) in rows(r).iter().enumerate() {
        let y = top + 1 + i as u32;
        for (c, v) in row.iter().enumerate() {
            let numeric = matches!(c, 0 | 6 | 7);
            match v.parse::<f64>() {
                Ok(n) if numeric => ws.write_number_with_format(y, c as u16, n, &cell)?,
                _ => ws.write_string_with_format(y, c as u16, v, &cell)?,
            };
        }
    }
    for (c, w) in [5, 36, 30, 18, 17, 17, 12, 12, 9, 9, 30, 30]
        .iter()
        .enumerate()
    {
        ws.set_column_width(c as u16, *w as f64)?;
    }
    wb.save_to_buffer()
}
