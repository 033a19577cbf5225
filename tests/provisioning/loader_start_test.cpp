// A loader the firmware refused (Secure Boot and the unsigned iPXE) is told
// apart from one that started: by what the machine asks next.
#include "core/provisioning/loader_start.h"

#include <gtest/gtest.h>

namespace metalpxe {
namespace {

using std::chrono::seconds;
const auto kT0 = std::chrono::steady_clock::time_point() + std::chrono::hours(1);

TEST(LoaderStart, LoaderFilesAreTheTablesOwn) {
  EXPECT_EQ(LoaderFileOf("snponly.efi"), "snponly.efi");
  EXPECT_EQ(LoaderFileOf("/snponly.efi"), "snponly.efi");
  EXPECT_EQ(LoaderFileOf("/assets/snponly.efi"), "snponly.efi");
  EXPECT_EQ(LoaderFileOf("/assets/arm64/ipxe.efi"), "arm64/ipxe.efi");
  EXPECT_EQ(LoaderFileOf("shimx64.efi"), "shimx64.efi");
  EXPECT_EQ(LoaderFileOf("undionly.kpxe"), "undionly.kpxe");
  // Second stages and boot files are not loaders.
  EXPECT_EQ(LoaderFileOf("grubx64.efi"), "");
  EXPECT_EQ(LoaderFileOf("grub/grub.cfg"), "");
  EXPECT_EQ(LoaderFileOf("/assets/profiles/default/vmlinuz"), "");
  EXPECT_EQ(LoaderFileOf("/assetssnponly.efi"), "");
}

TEST(LoaderStart, UnsignedLoaderRefusedSaysMarkSecureBoot) {
  const LoaderHandout h{"snponly.efi", kT0, false};
  const auto why = LoaderNotStarted(h, kT0 + seconds(12));
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(*why,
            "loader snponly.efi not started: the firmware asked DHCP again 12 s after fetching it, and nothing asked "
            "for its next step; Secure Boot may be on: mark the machine secureBoot");
}

TEST(LoaderStart, RefusedShimPointsAtTheFirmwaresKeys) {
  const auto why = LoaderNotStarted({"shimx64.efi", kT0, false}, kT0 + seconds(5));
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("Microsoft's UEFI CA"), std::string::npos);
  EXPECT_EQ(why->find("mark the machine secureBoot"), std::string::npos);
}

TEST(LoaderStart, NothingWhenTheLoaderWentOnOrTooLongAgo) {
  EXPECT_FALSE(LoaderNotStarted({"snponly.efi", kT0, true}, kT0 + seconds(12)));   // iPXE asked for its script
  EXPECT_FALSE(LoaderNotStarted({"snponly.efi", kT0, false}, kT0 + seconds(301)));  // past the bound
  EXPECT_TRUE(LoaderNotStarted({"snponly.efi", kT0, false}, kT0 + seconds(300)));
  EXPECT_FALSE(LoaderNotStarted({"snponly.efi", kT0, false}, kT0 - seconds(1)));    // clock went back
  EXPECT_FALSE(LoaderNotStarted({"", kT0, false}, kT0 + seconds(1)));               // nothing handed out
  EXPECT_TRUE(LoaderNotStarted({"snponly.efi", kT0, false}, kT0 + seconds(20), seconds(30)));
  EXPECT_FALSE(LoaderNotStarted({"snponly.efi", kT0, false}, kT0 + seconds(40), seconds(30)));
}

}  // namespace
}  // namespace metalpxe
