// i18n.js — UI strings of the giaoban web pages (Vietnamese default, English), the language
// switch (remembered in localStorage) and date formatting in Asia/Ho_Chi_Minh (dd/mm/yyyy HH:mm).
// Exposes window.i18n = { t, lang, setLang, toggle, apply, formatDateTime, formatRange }.
"use strict";

(function () {
  const STORAGE_KEY = "giaoban.lang";
  const TIME_ZONE = "Asia/Ho_Chi_Minh";

  const DICT = {
    vi: {
      "app.title": "Giao ban trực tuyến",
      "app.landing": "Mỗi điểm cầu tham gia phiên họp bằng đường dẫn riêng đã được Ban tổ chức gửi trong giấy mời họp.",
      "app.landingHint": "Nếu chưa nhận được đường dẫn, vui lòng liên hệ Ban tổ chức hoặc cán bộ kỹ thuật.",
      "lang.switch": "English",
      "lang.switchAria": "Chuyển giao diện sang tiếng Anh",
      "header.site": "Điểm cầu",
      "header.session": "Phiên họp",
      "header.time": "Thời gian",
      "conn.idle": "Chưa tham gia",
      "rec.on": "Đang ghi hình",
      "chair.title": "Điều hành",
      "chair.hands": "Đăng ký phát biểu",
      "chair.noHands": "Chưa có điểm cầu đăng ký phát biểu.",
      "chair.next": "Mời điểm cầu tiếp theo",
      "chair.revoke": "Kết thúc phát biểu",
      "chair.muteAll": "Tắt micro tất cả",
      "chair.joinMuted": "Điểm cầu tham gia ở trạng thái tắt micro",
      "chair.prev": "‹ Trang trước",
      "chair.prevAria": "Trang trước của lưới điểm cầu",
      "chair.next2": "Trang sau ›",
      "chair.nextAria": "Trang sau của lưới điểm cầu",
      "chair.page": "Trang {page}/{pages}",
      "chair.give": "Mời phát biểu",
      "chair.muteSite": "Tắt micro",
      "chair.unmuteSite": "Bật micro",
      "chair.youHaveFloor": "Điểm cầu đang được mời phát biểu",
      "chair.floorHolder": "Đang phát biểu: {site}",
      "chair.raiseHand": "Đăng ký phát biểu",
      "chair.lowerHand": "Hủy đăng ký phát biểu",
      "chair.mutedNote": "Chủ trì đã tắt micro của điểm cầu",
      "chair.micByChair": "Micro do chủ trì tắt",
      "chair.mutedByChair": "Chủ trì đang tắt micro của điểm cầu; chỉ chủ trì bật lại được.",
      "chair.confirmLeave": "Điểm cầu chủ trì rời phiên họp? Các điểm cầu khác sẽ không còn được điều hành.",
      "share.start": "Trình chiếu",
      "share.stop": "Dừng trình chiếu",
      "share.stopOther": "Dừng trình chiếu",
      "share.note": "Điểm cầu đang trình chiếu",
      "share.caption": "Trình chiếu: {site}",
      "share.waiting": "Đang chờ hình trình chiếu…",
      "share.replaced": "Trình chiếu của điểm cầu đã dừng: {site} bắt đầu trình chiếu.",
      "share.stoppedByChair": "Chủ trì đã dừng trình chiếu của điểm cầu.",
      "share.unsupported": "Trình duyệt này không hỗ trợ trình chiếu màn hình.",
      "share.failed": "Không thể bắt đầu trình chiếu.",
      "err.not_controller": "Chỉ điểm cầu chủ trì được điều hành phiên họp: {message}",
      "err.muted_by_chair": "Chủ trì đang tắt micro của điểm cầu: {message}",
      "err.no_agenda": "Phiên họp chưa có chương trình họp: {message}",
      "err.agenda_item_out_of_range": "Không có nội dung này trong chương trình họp: {message}",
      "agenda.item": "Nội dung {n}/{total}: {title}",
      "agenda.none": "Chưa chuyển sang nội dung nào của chương trình họp.",
      "agenda.pick": "Nội dung chương trình họp",
      "agenda.set": "Chuyển sang nội dung này",
      "agenda.clear": "Kết thúc nội dung",
      "err.unknown_site": "Điểm cầu không có trong phiên họp: {message}",
      "err.site_not_connected": "Điểm cầu chưa kết nối: {message}",
      "err.queue_empty": "Chưa có điểm cầu đăng ký phát biểu.",
      "err.already_sharing": "Điểm cầu đang trình chiếu; hãy dừng trình chiếu hiện tại trước.",
      "err.not_sharing": "Không có trình chiếu nào để dừng.",
      "rec.stopped": "Đã dừng ghi hình.",
      "rec.start": "Bắt đầu ghi hình",
      "rec.stop": "Dừng ghi hình",
      "rec.failed": "Ghi hình đã dừng do lỗi: {error}",
      "conn.connecting": "Đang kết nối",
      "conn.connected": "Đã kết nối",
      "conn.lost": "Mất kết nối",
      "loading": "Đang tải thông tin phiên họp…",
      "lobby.title": "Kiểm tra thiết bị",
      "lobby.hint": "Kiểm tra hình ảnh và âm thanh của điểm cầu trước khi tham gia phiên họp.",
      "device.camera": "Camera",
      "device.microphone": "Micro",
      "device.none": "Không có thiết bị",
      "device.unnamed": "Thiết bị {n}",
      "device.level": "Mức âm thanh micro",
      "device.settings": "Thiết bị",
      "device.settingsAria": "Chọn camera và micro",
      "btn.join": "Tham gia",
      "btn.joining": "Đang tham gia…",
      "btn.leave": "Rời phiên họp",
      "btn.micOff": "Tắt micro",
      "btn.micOn": "Bật micro",
      "btn.camOff": "Tắt camera",
      "btn.camOn": "Bật camera",
      "btn.rejoin": "Tham gia lại",
      "btn.enableSound": "Bật âm thanh",
      "left.title": "Đã rời phiên họp",
      "left.hint": "Điểm cầu đã rời phiên họp. Nhấn “Tham gia lại” để quay lại phiên họp.",
      "replaced.title": "Điểm cầu đã tham gia từ thiết bị khác",
      "replaced.hint": "Phiên họp đang được mở cho điểm cầu này trên một thiết bị khác. Nhấn “Tham gia lại” để chuyển về thiết bị này.",
      "fatal.title": "Không thể tham gia phiên họp",
      "status.connecting": "Đang kết nối tới máy chủ…",
      "status.joined": "Đã tham gia phiên họp.",
      "status.reconnecting": "Mất kết nối — đang kết nối lại",
      "status.reconnectIn": "Mất kết nối — đang kết nối lại (thử lại sau {s} giây)",
      "status.connectFailed": "Không kết nối được máy chủ — thử lại sau {s} giây",
      "status.mediaFailed": "Kết nối hình ảnh, âm thanh bị gián đoạn — đang kết nối lại",
      "status.viewer": "Không sử dụng được camera và micro — điểm cầu sẽ tham gia với vai trò theo dõi.",
      "status.soundBlocked": "Trình duyệt đang chặn phát âm thanh tự động. Nhấn “Bật âm thanh”.",
      "status.peerJoined": "Điểm cầu {site} đã tham gia.",
      "status.peerLeft": "Điểm cầu {site} đã rời phiên họp.",
      "status.peerDropped": "Điểm cầu {site} mất kết nối.",
      "status.peerRevoked": "Điểm cầu {site} đã bị thu hồi quyền tham gia.",
      "status.peerCancelled": "Điểm cầu {site} đã rời phiên họp do phiên họp bị hủy.",
      "early.title": "Chưa đến giờ họp",
      "early.text": "Phiên họp bắt đầu lúc {start}. Phòng họp mở từ {opens}; trong thời gian chờ, điểm cầu có thể kiểm tra camera và micro.",
      "err.link_revoked": "Đường dẫn tham gia của điểm cầu đã được cấp lại; đường dẫn này không còn hiệu lực. Vui lòng liên hệ Ban tổ chức.",
      "err.invitation_revoked": "Giấy mời của điểm cầu cho phiên họp này đã bị thu hồi. Vui lòng liên hệ Ban tổ chức để được cấp lại đường dẫn.",
      "err.device_revoked": "Thông tin xác thực của máy tính phòng họp đã bị thu hồi. Vui lòng liên hệ quản trị hệ thống.",
      "err.too_early": "Chưa đến giờ họp: {message}",
      "err.recording_refused": "Không thể bắt đầu hoặc dừng ghi hình: {message}",
      "status.noPeers": "Chưa có điểm cầu khác trong phiên họp.",
      "tile.micMuted": "Micro đã tắt",
      "tile.camOff": "Camera đã tắt",
      "tile.noVideo": "Chưa có hình ảnh",
      "tile.self": "Điểm cầu này",
      "tile.aria": "Hình ảnh điểm cầu {site}",
      "stats.title": "Thông số kết nối",
      "stats.metric": "Chỉ số",
      "stats.value": "Giá trị",
      "stats.inVideoFrames": "Hình ảnh nhận — khung hình đã giải mã",
      "stats.inVideoPackets": "Hình ảnh nhận — số gói tin",
      "stats.inVideoBytes": "Hình ảnh nhận — dung lượng",
      "stats.inAudioPackets": "Âm thanh nhận — số gói tin",
      "stats.inAudioBytes": "Âm thanh nhận — dung lượng",
      "stats.outVideoPackets": "Hình ảnh gửi — số gói tin",
      "stats.outVideoFrames": "Hình ảnh gửi — khung hình đã mã hóa",
      "stats.outVideoState": "Hình ảnh gửi — trạng thái",
      "stats.outVideoSending": "Đang gửi",
      "stats.outVideoPaused": "Tạm dừng (chưa điểm cầu nào xem)",
      "stats.outAudioPackets": "Âm thanh gửi — số gói tin",
      "stats.perSite": "Theo điểm cầu",
      "stats.site": "Điểm cầu",
      "stats.frames": "Khung hình",
      "stats.audioPackets": "Gói âm thanh",
      "stats.updated": "Cập nhật lúc {time}",
      "err.invalid_token": "Đường dẫn tham gia không hợp lệ. Vui lòng liên hệ Ban tổ chức để được cấp lại đường dẫn.",
      "err.token_expired": "Đường dẫn tham gia đã hết hạn. Vui lòng liên hệ Ban tổ chức để được cấp lại đường dẫn.",
      "err.session_not_found": "Không tìm thấy phiên họp (phiên họp có thể đã bị hủy).",
      "err.session_cancelled": "Phiên họp đã bị hủy; đường dẫn tham gia không còn hiệu lực.",
      "err.server_stop": "Máy chủ đang khởi động lại; điểm cầu sẽ tự kết nối lại.",
      "err.site_not_invited": "Điểm cầu không có trong thành phần được mời của phiên họp này.",
      "err.replaced": "Điểm cầu đã tham gia từ thiết bị khác.",
      "err.unsupported_version": "Trang phiên họp không tương thích với máy chủ. Vui lòng tải lại trang.",
      "err.bad_sdp": "Máy chủ không chấp nhận thông số kết nối hình ảnh, âm thanh.",
      "err.bad_candidate": "Máy chủ không chấp nhận một địa chỉ kết nối mạng (ICE).",
      "err.internal": "Máy chủ gặp sự cố: {message}",
      "err.protocol": "Lỗi giao tiếp với máy chủ ({code}): {message}",
      "err.network": "Không kết nối được máy chủ. Vui lòng kiểm tra mạng.",
      "err.unknown": "Đã xảy ra lỗi: {message}",
      "err.noToken": "Địa chỉ trang không chứa mã tham gia. Vui lòng mở đúng đường dẫn trong giấy mời họp.",
      "media.NotAllowedError": "Quyền sử dụng camera, micro bị từ chối. Vui lòng cho phép trong cài đặt trình duyệt.",
      "media.NotFoundError": "Không tìm thấy camera hoặc micro.",
      "media.NotReadableError": "Camera hoặc micro đang được ứng dụng khác sử dụng.",
      "media.OverconstrainedError": "Thiết bị đã chọn không còn khả dụng.",
      "media.insecure": "Trình duyệt chỉ cho phép dùng camera, micro trên kết nối bảo mật (HTTPS).",
      "media.other": "Không mở được camera, micro: {message}",
      "media.noCamera": "Không sử dụng được camera: {reason}",
      "media.noMic": "Không sử dụng được micro: {reason}",
    },
    en: {
      "app.title": "Online briefing",
      "app.landing": "Each site joins a session through its own link, sent by the organiser with the invitation.",
      "app.landingHint": "If you have not received a link, please contact the organiser or the technician.",
      "lang.switch": "Tiếng Việt",
      "lang.switchAria": "Switch the interface to Vietnamese",
      "header.site": "Site",
      "header.session": "Session",
      "header.time": "Time",
      "conn.idle": "Not joined",
      "rec.on": "Recording",
      "chair.title": "Chairing",
      "chair.hands": "Requests to speak",
      "chair.noHands": "No site has asked to speak.",
      "chair.next": "Give the floor to the next site",
      "chair.revoke": "Take the floor back",
      "chair.muteAll": "Mute all",
      "chair.joinMuted": "Sites join muted",
      "chair.prev": "‹ Previous page",
      "chair.prevAria": "Previous page of the sites grid",
      "chair.next2": "Next page ›",
      "chair.nextAria": "Next page of the sites grid",
      "chair.page": "Page {page} of {pages}",
      "chair.give": "Give the floor",
      "chair.muteSite": "Mute",
      "chair.unmuteSite": "Unmute",
      "chair.youHaveFloor": "This site has the floor",
      "chair.floorHolder": "Speaking: {site}",
      "chair.raiseHand": "Raise hand",
      "chair.lowerHand": "Lower hand",
      "chair.mutedNote": "The chair muted this site's microphone",
      "chair.micByChair": "Muted by the chair",
      "chair.mutedByChair": "The chair muted this site; only the chair can unmute it.",
      "chair.confirmLeave": "Leave the session as the host site? The other sites will no longer be chaired.",
      "share.start": "Share screen",
      "share.stop": "Stop sharing",
      "share.stopOther": "Stop the screen share",
      "share.note": "This site is sharing its screen",
      "share.caption": "Screen shared by {site}",
      "share.waiting": "Waiting for the shared screen…",
      "share.replaced": "This site's screen share stopped: {site} started sharing.",
      "share.stoppedByChair": "The chair stopped this site's screen share.",
      "share.unsupported": "This browser cannot share a screen.",
      "share.failed": "The screen share could not start.",
      "err.not_controller": "Only the host site chairs the session: {message}",
      "err.muted_by_chair": "The chair muted this site: {message}",
      "err.no_agenda": "The session has no agenda: {message}",
      "err.agenda_item_out_of_range": "The agenda has no such item: {message}",
      "agenda.item": "Agenda item {n}/{total}: {title}",
      "agenda.none": "No agenda item has been started yet.",
      "agenda.pick": "Agenda item",
      "agenda.set": "Move to this item",
      "agenda.clear": "End the item",
      "err.unknown_site": "The site is not in the session: {message}",
      "err.site_not_connected": "The site is not connected: {message}",
      "err.queue_empty": "No site has asked to speak.",
      "err.already_sharing": "This site is sharing its screen already; stop that share first.",
      "err.not_sharing": "There is no screen share to stop.",
      "rec.stopped": "Recording stopped.",
      "rec.start": "Start recording",
      "rec.stop": "Stop recording",
      "rec.failed": "Recording stopped because of an error: {error}",
      "conn.connecting": "Connecting",
      "conn.connected": "Connected",
      "conn.lost": "Connection lost",
      "loading": "Loading session information…",
      "lobby.title": "Device check",
      "lobby.hint": "Check the site's picture and sound before joining the session.",
      "device.camera": "Camera",
      "device.microphone": "Microphone",
      "device.none": "No device",
      "device.unnamed": "Device {n}",
      "device.level": "Microphone level",
      "device.settings": "Devices",
      "device.settingsAria": "Choose camera and microphone",
      "btn.join": "Join",
      "btn.joining": "Joining…",
      "btn.leave": "Leave session",
      "btn.micOff": "Mute",
      "btn.micOn": "Unmute",
      "btn.camOff": "Turn camera off",
      "btn.camOn": "Turn camera on",
      "btn.rejoin": "Rejoin",
      "btn.enableSound": "Enable sound",
      "left.title": "You have left the session",
      "left.hint": "This site has left the session. Press “Rejoin” to return.",
      "replaced.title": "This site joined from another device",
      "replaced.hint": "The session is open for this site on another device. Press “Rejoin” to move it back to this device.",
      "fatal.title": "Cannot join the session",
      "status.connecting": "Connecting to the server…",
      "status.joined": "Joined the session.",
      "status.reconnecting": "Connection lost — reconnecting",
      "status.reconnectIn": "Connection lost — reconnecting (next attempt in {s} s)",
      "status.connectFailed": "Cannot reach the server — retrying in {s} s",
      "status.mediaFailed": "Audio/video connection interrupted — reconnecting",
      "status.viewer": "Camera and microphone unavailable — the site will join as a viewer.",
      "status.soundBlocked": "The browser blocked automatic sound playback. Press “Enable sound”.",
      "status.peerJoined": "Site {site} joined.",
      "status.peerLeft": "Site {site} left the session.",
      "status.peerDropped": "Site {site} lost its connection.",
      "status.peerRevoked": "Site {site} no longer has access to the session.",
      "status.peerCancelled": "Site {site} left: the session was cancelled.",
      "early.title": "The session has not started yet",
      "early.text": "The session starts at {start}. The room opens at {opens}; meanwhile the site can check its camera and microphone.",
      "err.link_revoked": "This site's join link was re-issued; this link no longer works. Please contact the organisers.",
      "err.invitation_revoked": "The invitation of this site to the session has been revoked. Please ask the organisers for a new link.",
      "err.device_revoked": "The credential of this meeting-room PC was revoked. Please contact the system administrator.",
      "err.too_early": "The session has not started yet: {message}",
      "err.recording_refused": "The recording could not be started or stopped: {message}",
      "status.noPeers": "No other sites in the session yet.",
      "tile.micMuted": "Microphone muted",
      "tile.camOff": "Camera off",
      "tile.noVideo": "No video yet",
      "tile.self": "This site",
      "tile.aria": "Video of site {site}",
      "stats.title": "Connection statistics",
      "stats.metric": "Metric",
      "stats.value": "Value",
      "stats.inVideoFrames": "Video received — frames decoded",
      "stats.inVideoPackets": "Video received — packets",
      "stats.inVideoBytes": "Video received — data",
      "stats.inAudioPackets": "Audio received — packets",
      "stats.inAudioBytes": "Audio received — data",
      "stats.outVideoPackets": "Video sent — packets",
      "stats.outVideoFrames": "Video sent — frames encoded",
      "stats.outVideoState": "Video sent — state",
      "stats.outVideoSending": "Sending",
      "stats.outVideoPaused": "Paused (no site is viewing it)",
      "stats.outAudioPackets": "Audio sent — packets",
      "stats.perSite": "Per site",
      "stats.site": "Site",
      "stats.frames": "Frames",
      "stats.audioPackets": "Audio packets",
      "stats.updated": "Updated at {time}",
      "err.invalid_token": "The join link is invalid. Please ask the organiser for a new link.",
      "err.token_expired": "The join link has expired. Please ask the organiser for a new link.",
      "err.session_not_found": "The session was not found (it may have been cancelled).",
      "err.session_cancelled": "The session was cancelled; the join link no longer works.",
      "err.server_stop": "The server is restarting; the site will reconnect by itself.",
      "err.site_not_invited": "This site is not invited to this session.",
      "err.replaced": "This site joined from another device.",
      "err.unsupported_version": "This page does not match the server version. Please reload the page.",
      "err.bad_sdp": "The server refused the audio/video connection parameters.",
      "err.bad_candidate": "The server refused a network (ICE) candidate.",
      "err.internal": "The server failed: {message}",
      "err.protocol": "Protocol error ({code}): {message}",
      "err.network": "Cannot reach the server. Please check the network.",
      "err.unknown": "An error occurred: {message}",
      "err.noToken": "The page address holds no join token. Please open the link from the invitation.",
      "media.NotAllowedError": "Permission to use the camera and microphone was denied. Please allow it in the browser settings.",
      "media.NotFoundError": "No camera or microphone was found.",
      "media.NotReadableError": "The camera or microphone is in use by another application.",
      "media.OverconstrainedError": "The selected device is no longer available.",
      "media.insecure": "The browser allows the camera and microphone only over a secure (HTTPS) connection.",
      "media.other": "Cannot open the camera or microphone: {message}",
      "media.noCamera": "Camera unavailable: {reason}",
      "media.noMic": "Microphone unavailable: {reason}",
    },
  };

  function storedLang() {
    try {
      const v = window.localStorage.getItem(STORAGE_KEY);
      return v === "en" || v === "vi" ? v : "vi";
    } catch (_) {
      return "vi";
    }
  }

  let current = storedLang();

  // Translates `key`, replacing {name} placeholders from `params`. Unknown keys fall back to
  // Vietnamese, then to `fallback`, then to the key itself.
  function t(key, params, fallback) {
    let s = DICT[current][key] ?? DICT.vi[key] ?? fallback ?? key;
    if (params) {
      s = s.replace(/\{(\w+)\}/g, (m, name) => (params[name] !== undefined ? String(params[name]) : m));
    }
    return s;
  }

  function has(key) {
    return Object.prototype.hasOwnProperty.call(DICT.vi, key);
  }

  // Fills elements marked with data-i18n (text), data-i18n-aria (aria-label),
  // data-i18n-title (title) and data-i18n-placeholder under `root`.
  function apply(root) {
    const r = root || document;
    document.documentElement.lang = current;
    r.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    r.querySelectorAll("[data-i18n-aria]").forEach((el) => { el.setAttribute("aria-label", t(el.dataset.i18nAria)); });
    r.querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = t(el.dataset.i18nTitle); });
    r.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
    // The switch names the other language, in that language.
    r.querySelectorAll("[data-lang-switch]").forEach((el) => { el.lang = current === "vi" ? "en" : "vi"; });
  }

  function setLang(lang) {
    if (lang !== "vi" && lang !== "en") return;
    current = lang;
    try { window.localStorage.setItem(STORAGE_KEY, lang); } catch (_) { /* private mode */ }
    apply(document);
    window.dispatchEvent(new CustomEvent("langchange", { detail: { lang } }));
  }

  function toggle() {
    setLang(current === "vi" ? "en" : "vi");
  }

  const dtf = new Intl.DateTimeFormat("en-GB", {
    timeZone: TIME_ZONE, day: "2-digit", month: "2-digit", year: "numeric",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  const tf = new Intl.DateTimeFormat("en-GB", {
    timeZone: TIME_ZONE, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });

  function parts(date) {
    const p = {};
    for (const part of dtf.formatToParts(date)) p[part.type] = part.value;
    return p;
  }

  // "dd/mm/yyyy HH:mm" in Asia/Ho_Chi_Minh, whatever the language; "" for null or invalid input.
  function formatDateTime(value) {
    if (value === null || value === undefined || value === "") return "";
    const d = value instanceof Date ? value : new Date(value);
    if (Number.isNaN(d.getTime())) return "";
    const p = parts(d);
    return `${p.day}/${p.month}/${p.year} ${p.hour}:${p.minute}`;
  }

  // "dd/mm/yyyy HH:mm – HH:mm" on one day, else both full dates; either end may be null.
  function formatRange(start, end) {
    const s = formatDateTime(start);
    const e = formatDateTime(end);
    if (s && e) {
      return s.slice(0, 10) === e.slice(0, 10) ? `${s} – ${e.slice(11)}` : `${s} – ${e}`;
    }
    return s || e;
  }

  // "HH:mm:ss" in Asia/Ho_Chi_Minh.
  function formatTime(date) {
    return tf.format(date || new Date());
  }

  window.i18n = {
    t, has, apply, setLang, toggle, formatDateTime, formatRange, formatTime,
    get lang() { return current; },
  };

  // Wire any language switch button ([data-lang-switch]) once the DOM is ready.
  function wire() {
    apply(document);
    document.querySelectorAll("[data-lang-switch]").forEach((btn) => {
      btn.addEventListener("click", toggle);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
