// flame_svg.cpp -- FlameData -> interactive SVG flame graph (see flame_svg.h).
// Safety: builds the frame tree iteratively (no recursion, whatever the
// depth); memory proportional to the folded stacks.
#include "render/flame_svg.h"
#include "render/text.h"  // format_size

#include <algorithm>
#include <cstdio>
#include <map>

namespace heapscope {

namespace {

constexpr double kWidth = 1200;
constexpr double kFrameH = 16;
constexpr double kTop = 60;
constexpr double kBottom = 34;
constexpr double kMinFraction = 1.0 / 20000;

struct Node {
  std::string name;
  FrameKind kind = FrameKind::unknown;
  int64_t value = 0;
  int depth = 0;
  std::map<std::string, size_t> children;
  double x = 0;  // start, as a fraction of the total
};

std::string valid_utf8(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && len == 2) ok = c >= 0xC2;
    if (ok && len == 3) {
      unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);
    }
    if (ok && len == 4) {
      unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      ok = c <= 0xF4 && !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
    }
    if (!ok) {
      out += '?';
      ++i;
      continue;
    }
    if (len == 1 && c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      out += '?';
    } else {
      out.append(s, i, len);
    }
    i += len;
  }
  return out;
}

std::string colour(const Node& n) {
  unsigned h = 2166136261u;
  for (unsigned char c : n.name) h = (h ^ c) * 16777619u;
  double r = (h % 1000) / 1000.0;
  int red, green, blue;
  switch (n.kind) {
    case FrameKind::user:  // warm: red to orange
      red = 205 + static_cast<int>(50 * r);
      green = 90 + static_cast<int>(110 * r);
      blue = 40 + static_cast<int>(20 * r);
      break;
    case FrameKind::std_lib:  // blue
      red = 80 + static_cast<int>(50 * r);
      green = 140 + static_cast<int>(50 * r);
      blue = 200 + static_cast<int>(55 * r);
      break;
    case FrameKind::system:  // grey-yellow
      red = 190 + static_cast<int>(30 * r);
      green = 185 + static_cast<int>(30 * r);
      blue = 110 + static_cast<int>(30 * r);
      break;
    default:  // unresolved
      red = green = blue = 170 + static_cast<int>(40 * r);
  }
  char buf[16];
  snprintf(buf, sizeof buf, "#%02x%02x%02x", red, green, blue);
  return buf;
}

std::string label_for(const std::string& name, double width_px) {
  size_t chars = width_px > 8 ? static_cast<size_t>((width_px - 6) / 7) : 0;
  if (chars < 3) return "";
  if (name.size() <= chars) return name;
  return name.substr(0, chars - 2) + "..";
}

const char* kScript = R"JS(
var hsW = 1200, hsFrames = [], hsDetails = null, hsTotal = 1;
function hsAttr(g, k) { return g.getAttribute(k); }
function hsHuman(b) {
  var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], v = b, i = 0;
  while (Math.abs(v) >= 1024 && i < 4) { v /= 1024; i++; }
  return i == 0 ? b + ' B' : v.toFixed(1) + ' ' + u[i];
}
function hsInfo(g) {
  var v = +hsAttr(g, 'data-v');
  return hsAttr(g, 'data-n') + ' \u2014 ' + hsHuman(v) + ' (' + v + ' bytes, ' +
         (100 * v / hsTotal).toFixed(2) + '%)';
}
function hsLabel(name, w) {
  var c = Math.floor((w - 6) / 7);
  if (c < 3) return '';
  return name.length <= c ? name : name.substring(0, c - 2) + '..';
}
function hsZoom(x0, w0, d0) {
  var eps = 1e-12;
  for (var i = 0; i < hsFrames.length; i++) {
    var g = hsFrames[i], x = +hsAttr(g, 'data-x'), w = +hsAttr(g, 'data-w'), d = +hsAttr(g, 'data-d');
    var r = g.getElementsByTagName('rect')[0], t = g.getElementsByTagName('text')[0];
    var nx, nw, show = true;
    if (d >= d0 && x >= x0 - eps && x + w <= x0 + w0 + eps) {
      nx = (x - x0) / w0 * hsW; nw = w / w0 * hsW; g.classList.remove('parent');
    } else if (d < d0 && x <= x0 + eps && x + w >= x0 + w0 - eps) {
      nx = 0; nw = hsW; g.classList.add('parent');
    } else { show = false; }
    g.style.display = show ? '' : 'none';
    if (!show) continue;
    r.setAttribute('x', nx.toFixed(2)); r.setAttribute('width', Math.max(0, nw - 0.5).toFixed(2));
    t.setAttribute('x', (nx + 3).toFixed(2)); t.textContent = hsLabel(hsAttr(g, 'data-n'), nw);
  }
  document.getElementById('reset').style.opacity = (w0 < 1 || d0 > 0) ? '1' : '0.4';
}
function hsInit(evt) {
  hsDetails = document.getElementById('details').firstChild;
  hsTotal = Math.max(1, +document.documentElement.getAttribute('data-total'));
  var gs = document.getElementById('frames').getElementsByTagName('g');
  for (var i = 0; i < gs.length; i++) {
    var g = gs[i];
    hsFrames.push(g);
    g.addEventListener('mouseover', function () { hsDetails.nodeValue = hsInfo(this); });
    g.addEventListener('mouseout', function () { hsDetails.nodeValue = ' '; });
    g.addEventListener('click', function () {
      hsZoom(+hsAttr(this, 'data-x'), +hsAttr(this, 'data-w'), +hsAttr(this, 'data-d'));
    });
  }
  document.getElementById('reset').addEventListener('click', function () { hsZoom(0, 1, 0); });
  hsZoom(0, 1, 0);
}
)JS";

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string s = valid_utf8(text), out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_flame_svg(const FlameData& data, const std::string& title) {
  // The frame tree, root = "all".
  std::vector<Node> nodes(1);
  nodes[0].name = "all";
  nodes[0].kind = FrameKind::user;
  nodes[0].value = data.total;
  const double total = data.total > 0 ? static_cast<double>(data.total) : 1.0;
  for (const auto& s : data.stacks) {
    size_t cur = 0;
    for (const auto& f : s.frames) {
      auto it = nodes[cur].children.find(f.name);
      size_t next;
      if (it == nodes[cur].children.end()) {
        next = nodes.size();
        nodes[cur].children.emplace(f.name, next);
        Node n;
        n.name = f.name;
        n.kind = f.kind;
        n.depth = nodes[cur].depth + 1;
        nodes.push_back(std::move(n));
      } else {
        next = it->second;
      }
      nodes[next].value = sat_add(nodes[next].value, s.value);
      cur = next;
    }
  }
  // Positions, parents before children (explicit stack: no recursion).
  std::vector<size_t> order, todo{0};
  int max_depth = 0;
  while (!todo.empty()) {
    size_t i = todo.back();
    todo.pop_back();
    if (static_cast<double>(nodes[i].value) / total < kMinFraction && i != 0) continue;
    order.push_back(i);
    max_depth = std::max(max_depth, nodes[i].depth);
    double x = nodes[i].x;
    std::vector<size_t> kids;
    for (const auto& [name, k] : nodes[i].children) {
      nodes[k].x = x;
      x += static_cast<double>(nodes[k].value) / total;
      kids.push_back(k);
    }
    for (auto k = kids.rbegin(); k != kids.rend(); ++k) todo.push_back(*k);
  }

  const double height = kTop + (max_depth + 1) * kFrameH + kBottom;
  std::string heading;
  if (data.differential)
    heading = "heapscope: growth " + title + ": " + format_size(data.total) + " (" +
              std::to_string(data.total) + " bytes) in " + std::to_string(data.stacks.size()) +
              " growing stacks; " + std::to_string(-data.shrunk) + " bytes of shrinkage not drawn";
  else
    heading = "heapscope: " + title + ": " + format_size(data.total) + " in use (" +
              std::to_string(data.total) + " bytes) in " + std::to_string(data.stacks.size()) +
              " stacks";

  std::string out;
  char buf[512];
  out += "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n";
  snprintf(buf, sizeof buf,
           "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" height=\"%.0f\" "
           "viewBox=\"0 0 %.0f %.0f\" data-total=\"%lld\" onload=\"hsInit(evt)\">\n",
           kWidth, height, kWidth, height, static_cast<long long>(data.total));
  out += buf;
  out += "<title>" + xml_escape(heading) + "</title>\n";
  out +=
      "<style type=\"text/css\">\n"
      "  text { font-family: monospace; font-size: 12px; fill: #000; }\n"
      "  #title { font-size: 16px; }\n"
      "  #frames g { cursor: pointer; }\n"
      "  #frames g:hover rect { stroke: #000; stroke-width: 0.5; }\n"
      "  #frames g.parent rect { opacity: 0.5; }\n"
      "  #reset { cursor: pointer; fill: #06c; }\n"
      "  .legend { font-size: 11px; }\n"
      "</style>\n";
  out += "<script type=\"text/ecmascript\"><![CDATA[";
  out += kScript;
  out += "]]></script>\n";
  snprintf(buf, sizeof buf, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#f8f8f4\"/>\n",
           kWidth, height);
  out += buf;
  out += "<text id=\"title\" x=\"600\" y=\"22\" text-anchor=\"middle\">" + xml_escape(heading) +
         "</text>\n";
  out += "<text id=\"reset\" x=\"10\" y=\"44\" style=\"opacity:0.4\">Reset zoom</text>\n";
  const std::pair<FrameKind, const char*> legend[] = {{FrameKind::user, "program code"},
                                                      {FrameKind::std_lib, "C++ std library"},
                                                      {FrameKind::system, "libc / runtime"},
                                                      {FrameKind::unknown, "unresolved"}};
  double lx = 760;
  for (const auto& [kind, what] : legend) {
    Node n;
    n.kind = kind;
    snprintf(buf, sizeof buf,
             "<rect x=\"%.0f\" y=\"34\" width=\"10\" height=\"10\" fill=\"%s\"/>"
             "<text class=\"legend\" x=\"%.0f\" y=\"43\">%s</text>\n",
             lx, colour(n).c_str(), lx + 13, what);
    out += buf;
    lx += 110;
  }
  snprintf(buf, sizeof buf, "<text id=\"details\" x=\"10\" y=\"%.0f\"> </text>\n", height - 12);
  out += buf;
  out += "<g id=\"frames\">\n";
  for (size_t i : order) {
    const Node& n = nodes[i];
    double w = static_cast<double>(n.value) / total;
    if (i == 0) w = 1;
    double px = n.x * kWidth, pw = w * kWidth;
    double y = kTop + (max_depth - n.depth) * kFrameH;
    std::string name = xml_escape(n.name);
    double pct = 100.0 * static_cast<double>(n.value) / total;
    out += "<g data-n=\"" + name + "\"";
    snprintf(buf, sizeof buf, " data-x=\"%.12g\" data-w=\"%.12g\" data-d=\"%d\" data-v=\"%lld\">", n.x, w,
             n.depth, static_cast<long long>(n.value));
    out += buf;
    snprintf(buf, sizeof buf, " (%lld bytes, %.2f%%)", static_cast<long long>(n.value), pct);
    out += "<title>" + name + buf + "</title>";
    snprintf(buf, sizeof buf,
             "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%s\" rx=\"2\"/>", px, y,
             std::max(0.0, pw - 0.5), kFrameH - 1, colour(n).c_str());
    out += buf;
    snprintf(buf, sizeof buf, "<text x=\"%.2f\" y=\"%.1f\">", px + 3, y + kFrameH - 4);
    out += buf;
    out += xml_escape(label_for(n.name, pw)) + "</text></g>\n";
  }
  out += "</g>\n</svg>\n";
  return out;
}

}  // namespace heapscope
