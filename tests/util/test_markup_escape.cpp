// The one markup escaper (util/markup_escape.h): text can never open a tag, end an attribute or start an entity.
#include <gtest/gtest.h>

#include "pyramidion/util/markup_escape.h"

namespace pyramidion {
namespace {

TEST(MarkupEscape, EveryMarkupCharacterBecomesAnEntity) {
  EXPECT_EQ(markup_escape(R"(<script>alert("x") & 'y'</script>)"),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;");
  EXPECT_EQ(markup_escape("plain text, ünïcode"), "plain text, ünïcode");
  EXPECT_EQ(markup_escape("&amp;"), "&amp;amp;");  // escaping twice shows the first escape
  EXPECT_EQ(markup_escape(""), "");
}

}  // namespace
}  // namespace pyramidion
