// The C++17 consumer (tests/consumer): as consumer.c, through RAII and the standard
// library, to show that autoenc.h and the exported target work from C++.
#include <autoenc.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct model_deleter {
    void operator()(ae_model *model) const noexcept { ae_model_free(model); }
};
using model_ptr = std::unique_ptr<ae_model, model_deleter>;

bool ok(int rc, std::string_view what)
{
    if (rc != AE_OK) {
        std::fprintf(stderr, "consumer: %.*s: %s (%s)\n", static_cast<int>(what.size()), what.data(),
                     ae_status_str(rc), ae_last_error());
    }
    return rc == AE_OK;
}

} // namespace

int main()
{
    const std::string header_version = std::to_string(AE_VERSION_MAJOR) + "." +
                                       std::to_string(AE_VERSION_MINOR) + "." +
                                       std::to_string(AE_VERSION_PATCH);
    std::printf("autoenc %s\n", ae_version_string());
    if (ae_version_number() != AE_VERSION_NUMBER || header_version != ae_version_string()) {
        std::fprintf(stderr, "consumer: library %s, header %s\n", ae_version_string(), header_version.c_str());
        return 1;
    }

    constexpr std::size_t n_rows = 64, n_cols = 8, n_latent = 3;
    std::vector<float> x(n_rows * n_cols);
    for (std::size_t i = 0; i < n_rows; i++) {
        for (std::size_t j = 0; j < n_cols; j++) {
            x[i * n_cols + j] = static_cast<float>(0.5 + 0.4 * std::sin(0.37 * double(i) + 1.1 * double(j)));
        }
    }

    const std::size_t widths[] = {n_cols, 6, n_latent};
    ae_model *raw = nullptr;
    if (!ok(ae_model_create(&raw, widths, std::size(widths), nullptr, 0), "create")) {
        return 1;
    }
    model_ptr model(raw);
    double loss_before = 0.0, loss_after = 0.0;
    std::vector<float> codes(n_rows * n_latent);
    if (!ok(ae_model_set_param(model.get(), AE_PARAM_SEED, 7), "seed") ||
        !ok(ae_model_set_param(model.get(), AE_PARAM_EPOCHS, 20), "epochs") ||
        !ok(ae_model_set_param(model.get(), AE_PARAM_BATCH_SIZE, 16), "batch size") ||
        !ok(ae_model_set_param(model.get(), AE_PARAM_LEARNING_RATE, 1e-2), "learning rate") ||
        !ok(ae_model_loss(model.get(), x.data(), n_rows, n_cols, &loss_before), "loss") ||
        !ok(ae_model_fit(model.get(), x.data(), n_rows, n_cols, nullptr), "fit") ||
        !ok(ae_model_loss(model.get(), x.data(), n_rows, n_cols, &loss_after), "loss") ||
        !ok(ae_model_encode(model.get(), x.data(), n_rows, n_cols, codes.data(), n_latent), "encode")) {
        return 1;
    }

    if (!std::all_of(codes.begin(), codes.end(), [](float v) { return std::isfinite(v); })) {
        std::fprintf(stderr, "consumer: a code is not finite\n");
        return 1;
    }
    std::printf("loss %.5f -> %.5f\n", loss_before, loss_after);
    if (!(loss_after < loss_before)) {
        std::fprintf(stderr, "consumer: training did not lower the loss\n");
        return 1;
    }
    return 0;
}
