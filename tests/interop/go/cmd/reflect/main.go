// Command reflect is a gRPC reflection client (grpc.reflection.v1): it lists the server's
// services, then asks for the file containing each symbol given on the command line and checks
// that the answer really defines it (a service, method, message, nested type, field, enum,
// enum value or extension).
//
// Usage: reflect TARGET SYMBOL...
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: reflect TARGET SYMBOL...")
		os.Exit(2)
	}
	missing, err := run(os.Args[1], os.Args[2:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "reflect:", err)
		os.Exit(2)
	}
	if missing > 0 {
		os.Exit(1)
	}
}

func run(target string, symbols []string) (int, error) {
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return 0, err
	}
	ask := func(request *reflectionpb.ServerReflectionRequest) (*reflectionpb.ServerReflectionResponse, error) {
		if err := stream.Send(request); err != nil {
			return nil, err
		}
		return stream.Recv()
	}
	listed, err := ask(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	})
	if err != nil {
		return 0, err
	}
	var names []string
	for _, service := range listed.GetListServicesResponse().GetService() {
		names = append(names, service.GetName())
	}
	fmt.Printf("SERVICES %s\n", strings.Join(names, " "))
	missing := 0
	for _, symbol := range symbols {
		answer, err := ask(&reflectionpb.ServerReflectionRequest{
			MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: symbol},
		})
		if err != nil {
			return 0, err
		}
		file, problem := defining(answer, symbol)
		if problem != "" {
			missing++
			fmt.Printf("MISSING %s: %s\n", symbol, problem)
		} else {
			fmt.Printf("FOUND %s in %s\n", symbol, file)
		}
	}
	return missing, nil
}

// defining builds the answered files (with their dependencies) and finds the symbol in them.
func defining(answer *reflectionpb.ServerReflectionResponse, symbol string) (string, string) {
	if failure := answer.GetErrorResponse(); failure != nil {
		return "", fmt.Sprintf("error %d %s", failure.GetErrorCode(), failure.GetErrorMessage())
	}
	set := &descriptorpb.FileDescriptorSet{}
	for _, raw := range answer.GetFileDescriptorResponse().GetFileDescriptorProto() {
		file := &descriptorpb.FileDescriptorProto{}
		if err := proto.Unmarshal(raw, file); err != nil {
			return "", err.Error()
		}
		set.File = append(set.File, file)
	}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return "", err.Error()
	}
	found, err := files.FindDescriptorByName(protoreflect.FullName(symbol))
	if err != nil {
		return "", err.Error()
	}
	return found.ParentFile().Path(), ""
}
