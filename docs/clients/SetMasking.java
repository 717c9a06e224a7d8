// Masking/set with OkHttp 4: java -cp okhttp.jar:okio.jar:kotlin-stdlib.jar SetMasking.java M1 M2
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

public class SetMasking {
    public static void main(String[] args) throws Exception {
        String base = System.getenv().getOrDefault("CALLMASK_URL", "http://127.0.0.1:8080");
        String json = String.format(
            "{\"userId\":\"%s\",\"token\":\"%s\",\"m1\":\"%s\",\"m2\":\"%s\",\"expiry_duration\":60}",
            System.getenv("CALLMASK_USER"), System.getenv("CALLMASK_TOKEN"), args[0], args[1]);
        Request request = new Request.Builder()
            .url(base + "/api/v2/Masking/set")
            .post(RequestBody.create(json, MediaType.get("application/json")))
            .build();
        try (Response response = new OkHttpClient().newCall(request).execute()) {
            System.out.println(response.body().string());
        }
    }
}
