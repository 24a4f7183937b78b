// html_assets.h -- the HTML report's embedded assets, compiled in at build
// time by tools/embed_assets.cmake (the generated html_assets.cpp): Chart.js
// from Debian's libjs-chart.js, and the page's own script and style
// (html_page.js, html_page.css beside this file). NUL-terminated text.
#pragma once

namespace heapscope {
extern const char kChartJs[];
extern const char kHtmlPageJs[];
extern const char kHtmlPageCss[];
}  // namespace heapscope
